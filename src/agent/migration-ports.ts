import net from 'node:net';
import { FailedPrecondition } from '../errors';

/** Ports of this process handed to incoming migrations whose QEMU may not listen on them yet, as host:port. */
const held = new Set<string>();

/**
 * `count` ports free on host within [min, max] (an incoming migration's stream and NBD
 * server), held until release(). Two moves prepared on one node at once (a drain starts two)
 * would otherwise both find the lowest ports free before either QEMU listens on them, and the
 * second's migrate-incoming fail with "Address already in use". The hold is taken before the
 * probe, so a concurrent call skips the port at once.
 */
export const holdPorts = async (host: string, min: number, max: number, count: number): Promise<{ ports: number[]; release: () => void }> => {
  const ports: number[] = [];
  const release = () => {
    for (const p of ports) held.delete(`${host}:${p}`);
  };
  for (let p = min; p <= max && ports.length < count; p++) {
    const key = `${host}:${p}`;
    if (held.has(key)) continue;
    held.add(key);
    if (await canListen(host, p)) ports.push(p);
    else held.delete(key);
  }
  if (ports.length < count) {
    release();
    throw new FailedPrecondition(`no ${count} free ports between ${min} and ${max} on ${host} for the migration`);
  }
  return { ports, release };
};

const canListen = (host: string, port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });

/** A free port of [min, max] held while `listen` makes something listen on it (a disk server of a move), then let go. */
export const onHeldPort = async <T>(host: string, min: number, max: number, listen: (port: number) => Promise<T>): Promise<T> => {
  const { ports, release } = await holdPorts(host, min, max, 1);
  try {
    return await listen(ports[0]);
  } finally {
    release();
  }
};
