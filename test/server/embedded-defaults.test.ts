import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { ClusterServiceClient, ListNodesRequest, RegisterNodeRequest } from '../../src/gen/hypervisor/v1/cluster';
import { freePorts } from '../../src/nats/embedded-nats-server';
import { call, until } from '../support/control-plane';
import { killProcessesUnder } from '../support/leftovers';

const MAIN = path.join(__dirname, '..', '..', 'src', 'main.js');
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('the server on embedded defaults (what npm start runs)', function () {
  // The default accelerator probe waits on a real kernel; on a loaded machine that alone can pass a minute.
  this.timeout(300_000);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'hv-embedded-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('starts its own nats-server and one agent, logs the NATS URL, serves, and on SIGTERM stops cleanly with it', async () => {
    const [natsPort, grpcPort, httpPort] = await freePorts(3);
    const child = spawn(
      process.execPath,
      [MAIN, '--data-dir', dataDir, '--embedded-nats-port', String(natsPort), '--grpc-host', '127.0.0.1', '--grpc-port', String(grpcPort), '--http-port', String(httpPort)],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let log = '';
    child.stdout!.on('data', (d) => (log += d));
    child.stderr!.on('data', (d) => (log += d));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      await until('serving', () => /hypervisor-server serving/.test(log) || (child.exitCode !== null ? Promise.reject(new Error(log)) : undefined), 30_000);
      const started = log.split('\n').map((l) => (l.startsWith('{') ? JSON.parse(l) : {})).find((l) => l.msg === 'started embedded nats-server');
      assert.equal(started?.url, `nats://127.0.0.1:${natsPort}`);
      assert.ok(existsSync(path.join(dataDir, 'nats', 'jetstream')), 'JetStream keeps its data under the data dir');
      const c = new ClusterServiceClient(`127.0.0.1:${grpcPort}`, credentials.createInsecure());
      // The agent started with it registers this host as a node.
      const agentNode = await until(
        'the embedded agent registered its node',
        async () => (await call(c, c.listNodes, ListNodesRequest.fromPartial({ pageSize: 100 }))).nodes[0],
        // The default accelerator probe alone may take 35 s (a /dev/kvm that boots nothing: 5 s firmware, 30 s kernel),
        // and several times that on a loaded machine: a bound, not a timing.
        200_000,
      );
      assert.equal(agentNode.status, 1 /* READY */);
      // Its drivers by default: qemu, and oci for containers where runc and its tools work (they do here).
      assert.ok(agentNode.supportedInstanceTypes.includes('container'), agentNode.supportedInstanceTypes.join(','));
      const { nodeId } = await call(c, c.registerNode, RegisterNodeRequest.fromPartial({ hostname: 'embedded-a', ip: '10.4.0.1', port: 50052, supportedInstanceTypes: ['vm'] }));
      assert.equal((await call(c, c.getNode, { nodeId })).hostname, 'embedded-a');
      c.close();
      const natsPid = Number(/"natsPid":(\d+)/.exec(log)?.[1]);
      child.kill('SIGTERM');
      assert.equal(await exited, 0, `clean exit; log:\n${log}`);
      if (natsPid) assert.equal(alive(natsPid), false, 'the embedded nats-server stopped with it');
    } finally {
      if (child.exitCode === null) {
        // A failed test still ends what it started: the server's own stop takes its nats-server and probe QEMUs
        // with it (a SIGKILL would leave them), and whatever still runs under the data dir goes last.
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 40_000).unref())]);
        if (child.exitCode === null) child.kill('SIGKILL');
        killProcessesUnder(dataDir);
      }
    }
  });
});
