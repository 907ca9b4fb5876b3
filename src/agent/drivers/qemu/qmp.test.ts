import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { QmpClient, QmpCommandError, QmpDisconnected, QmpTimeout, type QmpEvent } from './qmp';

/** Speaks just enough QMP to test the client; `answer` decides per command. */
class FakeQmp {
  readonly dir = mkdtempSync(path.join(os.tmpdir(), 'hv-qmp-'));
  readonly path = path.join(this.dir, 'qmp.sock');
  readonly server: net.Server;
  readonly seen: string[] = [];
  conn?: net.Socket;

  constructor(answer: (cmd: string, id: unknown, sock: net.Socket) => void, greet = true) {
    this.server = net.createServer((sock) => {
      this.conn = sock;
      if (greet) sock.write(JSON.stringify({ QMP: { version: {}, capabilities: [] } }) + '\r\n');
      let buf = '';
      sock.on('data', (d) => {
        buf += d;
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const msg = JSON.parse(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
          this.seen.push(msg.execute);
          if (msg.execute === 'qmp_capabilities') sock.write(JSON.stringify({ return: {}, id: msg.id }) + '\r\n');
          else answer(msg.execute, msg.id, sock);
        }
      });
      sock.on('error', () => undefined);
    });
  }

  async listen(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(this.path, r));
    return this;
  }

  async close(): Promise<void> {
    this.conn?.destroy();
    await new Promise((r) => this.server.close(r));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const reply = (sock: net.Socket, msg: object) => sock.write(JSON.stringify(msg) + '\r\n');

describe('QmpClient (against a fake QMP server)', () => {
  let fake: FakeQmp | undefined;
  afterEach(async () => {
    await fake?.close();
    fake = undefined;
  });

  it('negotiates capabilities, matches answers to ids, and delivers events', async () => {
    fake = await new FakeQmp((cmd, id, sock) => {
      if (cmd === 'slow') setTimeout(() => reply(sock, { return: 'slow', id }), 50);
      else {
        reply(sock, { event: 'RESUME', timestamp: { seconds: 1, microseconds: 0 } });
        reply(sock, { return: { status: cmd }, id });
      }
    }).listen();
    const c = await QmpClient.connect(fake.path);
    const events: QmpEvent[] = [];
    c.on('event', (e) => events.push(e));
    const [slow, fast] = await Promise.all([c.execute('slow'), c.execute('query-status')]);
    assert.equal(slow, 'slow');
    assert.deepEqual(fast, { status: 'query-status' });
    assert.deepEqual(events.map((e) => e.event), ['RESUME']);
    assert.deepEqual(fake.seen, ['qmp_capabilities', 'slow', 'query-status']);
    c.close();
  });

  it('turns an error answer into QmpCommandError with QEMU\'s class', async () => {
    fake = await new FakeQmp((cmd, id, sock) => reply(sock, { error: { class: 'DeviceNotFound', desc: 'no such device' }, id })).listen();
    const c = await QmpClient.connect(fake.path);
    await assert.rejects(c.execute('device_del'), (e: unknown) => e instanceof QmpCommandError && e.errorClass === 'DeviceNotFound' && /no such device/.test(e.message));
    assert.equal(c.closed, false, 'a failed command leaves the monitor usable');
    c.close();
  });

  it('a command that times out while QEMU still answers pings is QmpTimeout', async () => {
    fake = await new FakeQmp((cmd, id, sock) => {
      if (cmd === 'query-version') reply(sock, { return: {}, id });
    }).listen();
    const c = await QmpClient.connect(fake.path);
    await assert.rejects(c.execute('stuck', undefined, { timeoutMs: 50 }), QmpTimeout);
    assert.equal(c.closed, false);
    c.close();
  });

  it('a command that times out and a ping that does too means QEMU is gone: QmpDisconnected', async function () {
    this.timeout(5_000);
    fake = await new FakeQmp(() => undefined).listen();
    const c = await QmpClient.connect(fake.path);
    let disconnected: unknown;
    c.on('disconnect', (e) => (disconnected = e));
    await assert.rejects(c.execute('stuck', undefined, { timeoutMs: 50 }), QmpDisconnected);
    assert.equal(c.closed, true);
    assert.ok(disconnected instanceof QmpDisconnected);
  });

  it('fails pending commands with QmpDisconnected and emits disconnect once when QEMU goes away', async () => {
    fake = await new FakeQmp((cmd, id, sock) => sock.destroy()).listen();
    const c = await QmpClient.connect(fake.path);
    let n = 0;
    c.on('disconnect', () => n++);
    await assert.rejects(c.execute('quit'), QmpDisconnected);
    await assert.rejects(c.execute('query-status'), QmpDisconnected);
    c.close();
    assert.equal(n, 1);
  });

  it('fails a command still waiting with the reason it is closed for', async () => {
    fake = await new FakeQmp(() => undefined).listen();
    const c = await QmpClient.connect(fake.path);
    const waiting = c.execute('query-migrate', undefined, { timeoutMs: 10_000 });
    c.close('its QEMU (pid 42) exited');
    await assert.rejects(waiting, (e: unknown) => e instanceof QmpDisconnected && e.message === 'its QEMU (pid 42) exited');
    await assert.rejects(c.execute('query-status'), QmpDisconnected);
  });

  it('gives up on a server that never greets (another client holds QEMU\'s monitor)', async () => {
    fake = await new FakeQmp(() => undefined, false).listen();
    await assert.rejects(QmpClient.connect(fake.path, { timeoutMs: 100 }), (e: unknown) => e instanceof QmpDisconnected && /no greeting/.test(e.message));
  });

  it('reports a missing socket as QmpDisconnected', async () => {
    await assert.rejects(QmpClient.connect('/nonexistent/qmp.sock', { timeoutMs: 100 }), QmpDisconnected);
  });
});
