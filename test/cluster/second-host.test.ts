import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { ClusterServiceClient, ListNodesRequest } from '../../src/gen/hypervisor/v1/cluster';
import { EventType, InstanceState, InstanceType, NodeStatus } from '../../src/gen/hypervisor/v1/common';
import { ComputeServiceClient } from '../../src/gen/hypervisor/v1/compute';
import { freePorts } from '../../src/nats/embedded-nats-server';
import { AgentProcess } from '../support/agent-process';
import { ConsoleSession, createRequest, InstanceWatch } from '../support/compute';
import { call, until } from '../support/control-plane';
import { ImageServer, testGuestDir } from '../support/image-server';
import { NetnsHosts } from '../support/netns-hosts';

const MAIN = path.join(__dirname, '..', '..', 'src', 'main.js');

/**
 * Other hosts, set up as the README says: `hypervisor-agent --server <server>:50051
 * --nats-url nats://<server>:4222 --nats-token-file <copy of the server's token>`, here in
 * network namespaces, against a server whose embedded NATS listens beyond loopback.
 */
describe('a second host: agents in other network namespaces on the embedded NATS (--nats-listen and its token)', function () {
  this.timeout(240_000);
  const work = mkdtempSync(path.join(os.tmpdir(), 'hv-second-host-'));
  const dataDir = path.join(work, 'server');
  let lab: NetnsHosts;
  let images: ImageServer;
  let server: ChildProcess;
  let log = '';
  let grpcPort = 0;
  let natsPort = 0;
  const agents: AgentProcess[] = [];

  const agentOn = (i: number, extra: string[]) => {
    const h = lab.hosts[i];
    const a = new AgentProcess(`${lab.rootIp}:${grpcPort}`, `nats://${lab.rootIp}:${natsPort}`, path.join(work, `agent-${i}`), h.name, ['--advertise-ip', h.ip, '--listen-host', h.ip, ...extra], {
      wrap: (argv) => h.wrap(argv),
    });
    agents.push(a);
    return a.start();
  };

  before(async () => {
    // Its own part of the benchmarking range (198.19.1–63.0/24), apart from the data-plane suites'.
    lab = await NetnsHosts.create(2, { net: '198.19', min: 1, max: 63 });
    images = await new ImageServer(testGuestDir(), lab.rootIp).start();
    let httpPort: number;
    [natsPort, grpcPort, httpPort] = await freePorts(3);
    server = spawn(
      process.execPath,
      [MAIN, '--data-dir', dataDir, '--nats-listen', `${lab.rootIp}:${natsPort}`, '--grpc-host', '0.0.0.0', '--grpc-insecure', '--grpc-port', String(grpcPort), '--http-port', String(httpPort), '--no-agent'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    server.stdout!.on('data', (d) => (log += d));
    server.stderr!.on('data', (d) => (log += d));
    await until('serving', () => /hypervisor-server serving/.test(log) || (server.exitCode !== null ? Promise.reject(new Error(log)) : undefined), 60_000);
  });
  after(async () => {
    for (const a of agents) await a.kill9();
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server.once('exit', r));
      server.kill('SIGTERM');
      const t = setTimeout(() => server.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    }
    await images?.stop();
    await lab?.cleanup();
    rmSync(work, { recursive: true, force: true });
  });

  it('writes the token into its data dir, readable by root only, and says where', () => {
    const file = path.join(dataDir, 'nats', 'token');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.ok(log.includes(`"tokenFile":"${file}"`), 'the log names the token file');
  });

  it('refuses an agent without the token, with an error that says what to do', async () => {
    const a = await agentOn(0, []);
    const code = await new Promise<number | null>((r) => (a.child!.exitCode !== null ? r(a.child!.exitCode) : a.child!.once('exit', (c) => r(c))));
    assert.equal(code, 1, a.log);
    assert.match(a.log, /refused this agent \(authorization violation\).*--nats-token-file/);
  });

  it('takes both hosts with the token; an instance runs on the second one and its console answers through the server', async () => {
    const tokenFile = path.join(dataDir, 'nats', 'token');
    await Promise.all([agentOn(0, ['--nats-token-file', tokenFile]), agentOn(1, ['--nats-token-file', tokenFile])]);
    const cluster = new ClusterServiceClient(`127.0.0.1:${grpcPort}`, credentials.createInsecure());
    const compute = new ComputeServiceClient(`127.0.0.1:${grpcPort}`, credentials.createInsecure());
    const watch = new InstanceWatch(compute);
    try {
      const nodes = await until('both hosts READY', async () => {
        const { nodes } = await call(cluster, cluster.listNodes, ListNodesRequest.fromPartial({ status: NodeStatus.NODE_STATUS_READY, pageSize: 10 }));
        return nodes.length === 2 ? nodes : undefined;
      }, 60_000);
      const second = nodes.find((n) => n.hostname === lab.hosts[1].name)!;
      assert.equal(second.ip, lab.hosts[1].ip);
      const { id } = await call(
        compute,
        compute.createInstance,
        createRequest('on-second-host', InstanceType.INSTANCE_TYPE_MICROVM, { kernel: images.url('vmlinuz'), initrd: images.url('initramfs.cpio.gz') }, { preferredNodeId: second.id }),
      );
      const running = (await watch.state(id, InstanceState.INSTANCE_STATE_RUNNING, 90_000)).instance!;
      assert.equal(running.nodeId, second.id);
      const con = new ConsoleSession(compute, id);
      assert.ok(await con.waitFor('HV-GUEST-READY', 90_000), con.text.slice(-300));
      const from = con.text.length;
      con.type('echo hv-$((6*7))\n');
      assert.ok(await con.waitFor('hv-42', 30_000, from), con.text.slice(from));
      con.close();
      const mark = watch.events.length;
      await call(compute, compute.deleteInstance, { instanceId: id, force: false });
      await watch.until('DELETED', (e) => e.instance?.id === id && e.type === EventType.EVENT_TYPE_DELETED, 60_000, mark);
    } finally {
      watch.close();
      cluster.close();
      compute.close();
    }
  });
});
