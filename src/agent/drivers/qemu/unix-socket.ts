import net from 'node:net';
import { Unavailable } from '../../../errors';

/** Linux sun_path is 108 bytes including the NUL. */
export const MAX_UNIX_SOCKET_PATH = 107;

/**
 * Connects to a unix socket, failing after timeoutMs: QEMU's socket chardevs serve one
 * client at a time and leave the next one waiting in the backlog, which would block forever.
 */
export function connectUnix(path: string, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection({ path });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Unavailable(`connecting to ${path} took longer than ${timeoutMs} ms`));
    }, timeoutMs);
    const onError = (err: Error) => {
      clearTimeout(timer);
      reject(new Unavailable(`cannot connect to ${path}: ${err.message}`, { cause: err }));
    };
    sock.once('error', onError);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.off('error', onError);
      resolve(sock);
    });
  });
}
