import assert from 'node:assert/strict';
import net from 'node:net';
import { FailedPrecondition } from '../errors';
import { holdPorts } from './migration-ports';

/** A port of loopback taken by a listener, so the range below has a gap. */
const listenOn = (port: number): Promise<net.Server> =>
  new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve(s));
  });

/** A base port whose next 8 are free on loopback now (the kernel's pick, then checked). */
const freeRange = async (): Promise<number> => {
  for (;;) {
    const s = await listenOn(0);
    const base = (s.address() as net.AddressInfo).port;
    await new Promise((r) => s.close(r));
    if (base + 8 > 65535) continue;
    const probes = await Promise.all([...Array(8).keys()].map((i) => listenOn(base + i).then((x) => x, () => undefined)));
    await Promise.all(probes.map((x) => x && new Promise((r) => x.close(r))));
    if (probes.every(Boolean)) return base;
  }
};

describe('ports of an incoming migration (real sockets on loopback)', () => {
  it('gives two moves prepared at once different ports, and one released gives its ports back', async () => {
    const base = await freeRange();
    const [a, b] = await Promise.all([holdPorts('127.0.0.1', base, base + 7, 2), holdPorts('127.0.0.1', base, base + 7, 2)]);
    assert.equal(new Set([...a.ports, ...b.ports]).size, 4, `${a.ports} and ${b.ports}`);
    a.release();
    const c = await holdPorts('127.0.0.1', base, base + 7, 2);
    assert.deepEqual(c.ports, a.ports);
    b.release();
    c.release();
  });

  it('skips a port something listens on, and refuses when the range has too few', async () => {
    const base = await freeRange();
    const busy = await listenOn(base);
    try {
      const h = await holdPorts('127.0.0.1', base, base + 2, 2);
      assert.deepEqual(h.ports, [base + 1, base + 2]);
      await assert.rejects(holdPorts('127.0.0.1', base, base + 2, 2), (e: unknown) => e instanceof FailedPrecondition && /no 2 free ports between/.test((e as Error).message));
      h.release();
    } finally {
      await new Promise((r) => busy.close(r));
    }
  });
});
