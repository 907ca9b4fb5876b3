import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { ResourceExhausted } from '../../../errors';
import { ConsoleMux, ConsoleTimeout, waitForOutput } from './console';

/** Stands in for QEMU's console chardev: one client, echoes input upper-cased. */
async function fakeConsole() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hv-con-'));
  const sockPath = path.join(dir, 'console.sock');
  let conn: net.Socket | undefined;
  const server = net.createServer((s) => {
    conn = s;
    s.on('data', (d) => s.write(d.toString().toUpperCase()));
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(sockPath, r));
  const connected = async () => {
    while (!conn) await new Promise((r) => setTimeout(r, 5));
    return conn;
  };
  return {
    path: sockPath,
    connected,
    close: async () => {
      conn?.destroy();
      await new Promise((r) => server.close(r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('ConsoleMux', () => {
  it('fans output out to every client and input in from any of them', async () => {
    const fake = await fakeConsole();
    const mux = await ConsoleMux.open(fake.path);
    try {
      const a = mux.attach();
      const b = mux.attach();
      assert.equal(mux.clientCount, 2);
      const both = Promise.all([waitForOutput(a, 'HELLO', 1_000), waitForOutput(b, 'HELLO', 1_000)]);
      b.write('hello\n');
      await both;
      b.destroy();
      assert.equal(mux.clientCount, 1);
      const onlyA = waitForOutput(a, 'AGAIN', 1_000);
      a.write('again\n');
      await onlyA;
    } finally {
      mux.close();
      await fake.close();
    }
  });

  it('replays recent output to a client that asks, bounded by the scrollback size', async () => {
    const fake = await fakeConsole();
    const mux = await ConsoleMux.open(fake.path, { scrollbackBytes: 8 });
    try {
      const a = mux.attach();
      const qemu = await fake.connected();
      const first = waitForOutput(a, 'one', 1_000);
      qemu.write('boot log line one\n');
      await first;
      const second = waitForOutput(a, 'WORLD', 1_000);
      qemu.write('HELLO WORLD');
      await second;
      const late = mux.attach({ replay: true });
      assert.equal(late.read()?.toString(), 'HELLO WORLD', 'keeps whole chunks, dropping the oldest past the limit');
      assert.equal(mux.attach().read(), null, 'no replay unless asked');
    } finally {
      mux.close();
      await fake.close();
    }
  });

  it('cuts off a client that stops reading, without holding up the others', async () => {
    const fake = await fakeConsole();
    const mux = await ConsoleMux.open(fake.path, { maxClientBufferBytes: 1024 });
    try {
      const slow = mux.attach();
      slow.pause();
      const fast = mux.attach();
      let fastBytes = 0;
      fast.on('data', (d: Buffer) => (fastBytes += d.length));
      const err = new Promise<Error>((r) => slow.once('error', r));
      const qemu = await fake.connected();
      for (let i = 0; i < 10; i++) qemu.write(Buffer.alloc(512, 0x41));
      assert.ok((await err) instanceof ResourceExhausted);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(fastBytes, 5120);
      assert.equal(mux.clientCount, 1);
    } finally {
      mux.close();
      await fake.close();
    }
  });

  it('ends every client when QEMU goes away', async () => {
    const fake = await fakeConsole();
    const mux = await ConsoleMux.open(fake.path);
    const a = mux.attach();
    const ended = new Promise((r) => a.once('end', r));
    a.resume();
    (await fake.connected()).destroy();
    await ended;
    assert.equal(mux.closed, true);
    a.on('error', () => undefined);
    await assert.rejects(new Promise((res, rej) => a.write('x', (e) => (e ? rej(e) : res(undefined)))), /closed/);
    await fake.close();
  });
});

describe('waitForOutput', () => {
  it('times out with what it saw', async () => {
    const s = new PassThrough();
    s.write('Booting the kernel');
    await assert.rejects(waitForOutput(s, 'READY', 50), (e: unknown) => e instanceof ConsoleTimeout && e.output === 'Booting the kernel');
  });

  it('leaves output after the match for the next reader', async () => {
    const s = new PassThrough();
    const first = waitForOutput(s, 'one', 1_000);
    s.write('one');
    await first;
    s.write('two');
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(await waitForOutput(s, 'two', 1_000), 'two');
  });

  it('fails at once when the console ends', async () => {
    const s = new PassThrough();
    const p = waitForOutput(s, 'never', 10_000);
    s.end('bye');
    await assert.rejects(p, /ended before/);
  });
});
