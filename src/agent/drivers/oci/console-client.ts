import { Duplex } from 'node:stream';
import type { ConsoleStream } from '../driver';
import { connectUnix } from '../qemu/unix-socket';

/** A frame to the console shim (see console-shim.py): type byte, big-endian length, payload. */
export const frame = (type: 'h' | 'd' | 'r', payload: Buffer): Buffer => {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
};

/**
 * One attachment to a container's console: bytes written are keystrokes (or,
 * without a tty, its stdin), bytes read are its output (the recent output first
 * when replay is asked). resize() sets the pty's window size; a container
 * without a tty has no window, so its stream has no resize().
 */
export const attachConsole = async (socketPath: string, o: { replay: boolean; tty: boolean }): Promise<ConsoleStream> => {
  const { replay } = o;
  const sock = await connectUnix(socketPath, 5_000);
  sock.write(frame('h', Buffer.from([replay ? 1 : 0])));
  const d = new Duplex({
    read() {
      sock.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      sock.write(frame('d', chunk), cb);
    },
    final(cb) {
      sock.end();
      cb();
    },
    destroy(err, cb) {
      sock.destroy();
      cb(err);
    },
  }) as ConsoleStream;
  sock.on('data', (b: Buffer) => {
    if (!d.push(b)) sock.pause();
  });
  sock.on('end', () => d.push(null));
  sock.on('error', (e) => d.destroy(e));
  sock.on('close', () => {
    if (!d.destroyed) d.push(null);
  });
  if (!o.tty) return d;
  d.resize = (width: number, height: number) => {
    if (width <= 0 || height <= 0 || sock.destroyed) return;
    const p = Buffer.alloc(4);
    p.writeUInt16BE(Math.min(height, 0xffff), 0);
    p.writeUInt16BE(Math.min(width, 0xffff), 2);
    sock.write(frame('r', p));
  };
  return d;
};
