import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePorts } from '../../src/nats/embedded-nats-server';
import { hvctl, isolatedEnv } from '../support/hvctl';
import { until } from '../support/until';

const MAIN = path.join(__dirname, '..', '..', 'src', 'main.js');

/** The server binary on its embedded NATS, with an agent of the hollow driver (no QEMU probe). */
const start = async (dataDir: string, more: string[]) => {
  const [nats, grpc, http] = await freePorts(3);
  const child = spawn(
    process.execPath,
    [MAIN, '--data-dir', dataDir, '--embedded-nats-port', String(nats), '--grpc-port', String(grpc), '--http-port', String(http), '--agent-driver', 'hollow', ...more],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const s = { child, log: '', grpc, http };
  child.stdout!.on('data', (d) => (s.log += d));
  child.stderr!.on('data', (d) => (s.log += d));
  await until('serving', () => /hypervisor-server serving/.test(s.log) || (child.exitCode !== null ? Promise.reject(new Error(s.log)) : undefined), 60_000);
  return s;
};
const stop = async (c: ChildProcess) => {
  if (c.exitCode !== null) return;
  const exited = new Promise((r) => c.once('exit', r));
  c.kill('SIGTERM');
  await exited;
};
const lines = (log: string) => log.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: number; msg: string; mode?: string });

describe('the server binary in network and insecure mode', function () {
  this.timeout(120_000);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'hv-net-bin-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('network mode: says so, keeps every key out of the log, and its own agent registers with its node certificate', async () => {
    const s = await start(dataDir, ['--grpc-host', '0.0.0.0']);
    try {
      const said = lines(s.log).find((l) => / mode: /.test(l.msg ?? ''));
      assert.equal(said?.mode, 'network');
      assert.match(said!.msg, /^network mode: listening beyond loopback \(0\.0\.0\.0\): TLS 1\.3 only/);
      for (const f of ['ca.key', 'server.key', 'admin.key', 'node.key', 'console.key']) {
        const body = readFileSync(path.join(dataDir, 'pki', f), 'utf8').split('\n').filter((l) => l && !l.startsWith('-----'));
        for (const l of body) assert.ok(!s.log.includes(l), `a line of ${f} is in the log`);
      }
      assert.ok(!s.log.includes('PRIVATE KEY'));
      // hvctl on this host: the admin certificate, found through the data dir.
      const env = isolatedEnv({ HV_DATA_DIR: dataDir });
      const nodes = await until('the embedded agent registered', async () => {
        const r = await hvctl(['--server', `127.0.0.1:${s.grpc}`, 'node', 'list', '-o', 'json'], { env });
        assert.equal(r.code, 0, r.stderr);
        const list = JSON.parse(r.stdout) as { hostname: string }[];
        return list.length ? list : undefined;
      }, 60_000);
      assert.deepEqual(nodes.map((n) => n.hostname), [os.hostname()]);
      const events = JSON.parse((await hvctl(['--server', `127.0.0.1:${s.grpc}`, 'events', '--kind', 'node', '-o', 'json'], { env })).stdout.trim().split('\n')[0]);
      assert.equal(events.actor, `node:${os.hostname()}`, 'the agent registered as its node identity');
    } finally {
      await stop(s.child);
    }
  });

  it('--grpc-insecure: plaintext beyond loopback, a warning at the start and hv_insecure_listener 1', async () => {
    const s = await start(dataDir, ['--grpc-host', '0.0.0.0', '--grpc-insecure', '--no-agent']);
    try {
      const warned = lines(s.log).find((l) => l.mode === 'insecure');
      assert.equal(warned?.level, 40);
      assert.match(warned!.msg, /^INSECURE: --grpc-insecure: plaintext on 0\.0\.0\.0/);
      const metrics = await (await fetch(`http://127.0.0.1:${s.http}/metrics`)).text();
      assert.match(metrics, /^hv_insecure_listener 1$/m);
      const me = await hvctl(['--server', `127.0.0.1:${s.grpc}`, 'whoami', '-o', 'json'], { env: isolatedEnv({ HV_DATA_DIR: dataDir }) });
      assert.deepEqual([JSON.parse(me.stdout).identity, JSON.parse(me.stdout).mode], ['local:admin', 'insecure']);
    } finally {
      await stop(s.child);
    }
  });
});
