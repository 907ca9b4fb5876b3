import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type ChannelOptions, type Client, credentials, status } from '@grpc/grpc-js';
import { connect, type NatsConnection, type NatsError, StringCodec } from 'nats';
import { nodePkiFiles } from '../../src/agent/node-credentials';
import { consumerName, nodeInbox, WORK_STREAM } from '../../src/agent/protocol';
import { nodeIdFor } from '../../src/commands/node/identity';
import { IdentityServiceClient } from '../../src/gen/hypervisor/iam/v1/iam';
import { AgentServiceClient } from '../../src/gen/hypervisor/v1/agent';
import { ClusterServiceClient, HeartbeatRequest, Node } from '../../src/gen/hypervisor/v1/cluster';
import { InstanceState, InstanceType, NodeStatus } from '../../src/gen/hypervisor/v1/common';
import type { CommandEnvelope } from '../../src/bus/envelope';
import { reportSubject } from '../../src/bus/subjects';
import { type CommandReply, decode, encode } from '../../src/bus/wire';
import { ComputeServiceClient } from '../../src/gen/hypervisor/v1/compute';
import { AgentProcess } from '../support/agent-process';
import { createRequest } from '../support/compute';
import { ImageServer, testGuestDir } from '../support/image-server';
import { call, rejectsWith, TestControlPlane } from '../support/control-plane';
import { type NetnsHost, NetnsHosts } from '../support/netns-hosts';
import { nodeRegistration } from '../support/nodes';
import { tlsTarget } from '../../src/shared/tls-target';
import { until } from '../support/until';

const LIST = { role: 0, status: 0, region: '', zone: '', labelSelector: {}, pageSize: 100, pageToken: '' };
const sc = StringCodec();
const MiB = 1024 * 1024;

/**
 * Two hosts in network namespaces join a control plane in network mode with
 * tokens; its embedded NATS is confined (TLS, verify_and_map). An attacker
 * on host A holds A's key and certificate (read from A's state dir) and tries
 * to act as B, on gRPC, on B's AgentService and on NATS; then A is revoked.
 */
describe('hosts join with tokens and act only as themselves (network namespaces, confined NATS)', function () {
  this.timeout(180_000);
  let lab: NetnsHosts;
  let t: TestControlPlane;
  const agents: AgentProcess[] = [];
  const dirs: string[] = [];
  const clients: Client[] = [];
  const natsConns: NatsConnection[] = [];
  let target: string;
  let admin: ClusterServiceClient;
  let A: NetnsHost;
  let B: NetnsHost;
  const stateOf = (h: NetnsHost) => agents.find((a) => a.hostname === h.name)!.stateDir;
  /** A's key and certificate, as an attacker on host A reads them. */
  const stolen = () => {
    const f = nodePkiFiles(stateOf(A));
    return { ca: readFileSync(f.ca), cert: readFileSync(f.cert), key: readFileSync(f.key) };
  };
  const client = <C extends Client>(Ctor: new (a: string, c: ReturnType<typeof credentials.createSsl>, o: ChannelOptions) => C, p: { ca: Buffer; cert: Buffer; key: Buffer }, at = target) => {
    // Who answers is not what these tests ask; the placeholder server name only keeps an IP out of TLS's.
    const c = new Ctor(at, credentials.createSsl(p.ca, p.key, p.cert, { checkServerIdentity: () => undefined }), tlsTarget(at).channelOptions);
    clients.push(c);
    return c;
  };
  const adminPair = () => {
    const pki = t.cp.security!.pki;
    return { ca: Buffer.from(pki.ca.certPem), cert: readFileSync(pki.admin.certFile), key: readFileSync(pki.admin.keyFile) };
  };
  let images: ImageServer;
  const nodeOf = async (h: NetnsHost) => (await call(admin, admin.listNodes, LIST)).nodes.find((n) => n.hostname === h.name);
  const natsAs = async (p: { ca: Buffer; cert: Buffer; key: Buffer }, inbox: string) => {
    const nc = await connect({ servers: t.cp.natsUrl.replace('127.0.0.1', lab.rootIp), tls: { ca: p.ca.toString(), cert: p.cert.toString(), key: p.key.toString() }, inboxPrefix: inbox, reconnect: false });
    natsConns.push(nc);
    return nc;
  };
  const violation = (e: unknown, subject: RegExp) => {
    assert.equal((e as NatsError).code, 'PERMISSIONS_VIOLATION', String(e));
    assert.match((e as Error).message, subject);
    return true;
  };

  before(async () => {
    lab = await NetnsHosts.create(2);
    [A, B] = lab.hosts;
    t = new TestControlPlane({ grpcHost: lab.rootIp, natsUrl: undefined, natsListen: `${lab.rootIp}:0` });
    await t.start();
    target = `${lab.rootIp}:${t.cp.grpcPort}`;
    admin = client(ClusterServiceClient, adminPair());
    const identity = client(IdentityServiceClient, adminPair());
    images = await new ImageServer(testGuestDir(), lab.rootIp).start();
    for (const h of lab.hosts) {
      const { token } = await call(identity, identity.createJoinToken, { ttlSeconds: 600, serverAddress: '' });
      const dir = mkdtempSync(path.join(os.tmpdir(), `${lab.token}-agent-`));
      dirs.push(dir);
      const a = new AgentProcess(target, t.cp.nats!.agentUrl, dir, h.name, ['--advertise-ip', h.ip, '--listen-host', h.ip, '--driver', 'hollow', '--dataplane', 'none'], {
        env: { HV_JOIN_TOKEN: token },
        wrap: h.wrap,
      });
      agents.push(await a.start());
    }
    await until('both hosts registered and READY', async () => {
      const nodes = (await call(admin, admin.listNodes, LIST)).nodes.filter((n) => lab.hosts.some((h) => h.name === n.hostname));
      return nodes.length === 2 && nodes.every((n) => n.status === NodeStatus.NODE_STATUS_READY) ? nodes : undefined;
    }, 90_000).catch((e) => {
      throw new Error(`${(e as Error).message}\n${agents.map((a) => `${a.hostname}: ${a.log.slice(-2000)}`).join('\n')}`);
    });
  });
  after(async () => {
    for (const c of clients) c.close();
    for (const nc of natsConns) await nc.close().catch(() => undefined);
    for (const a of agents) await a.stop().catch(() => undefined);
    await t?.stop();
    await images?.stop();
    await lab?.cleanup();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('each host joined with a token: its key and certificate in <state-dir>/pki (0600), NATS over TLS with its own certificate', async () => {
    for (const h of lab.hosts) {
      const f = nodePkiFiles(stateOf(h));
      for (const file of [f.key, f.cert, f.ca, f.natsUrl]) assert.equal(statSync(file).mode & 0o777, 0o600, file);
      assert.match(readFileSync(f.natsUrl, 'utf8'), /^tls:\/\//);
    }
    // The server made each node's work consumer (a node never chooses its filter).
    const nc = await natsAs({ ca: Buffer.from(t.cp.security!.pki.ca.certPem), cert: Buffer.from(t.cp.security!.pki.controlPlane.certPem), key: Buffer.from(t.cp.security!.pki.controlPlane.keyPem) }, '_INBOX_test');
    const jsm = await nc.jetstreamManager();
    for (const h of lab.hosts) {
      const info = await until(`the consumer of ${h.name}`, () => jsm.consumers.info(WORK_STREAM, consumerName(nodeIdFor(h.name))).catch(() => undefined), 30_000);
      assert.equal(info.config.filter_subject, `hv.agent.${nodeIdFor(h.name)}.>`);
    }
  });

  it("with A's key and certificate: RegisterNode as B, Heartbeat for B and B's AgentService are refused; nothing of B changes", async () => {
    const before = Node.toJSON((await nodeOf(B))!);
    const asA = client(ClusterServiceClient, stolen());
    const b = (await nodeOf(B))!;
    await rejectsWith(call(asA, asA.registerNode, nodeRegistration(B.name)), status.PERMISSION_DENIED, new RegExp(`node:${A.name} may register only its own host name`));
    await rejectsWith(call(asA, asA.heartbeat, HeartbeatRequest.fromPartial({ nodeId: b.id })), status.PERMISSION_DENIED, new RegExp(`node:${A.name} may act only for its own node`));
    const bAgent = client(AgentServiceClient, stolen(), `${B.ip}:${b.port}`);
    await rejectsWith(call(bAgent, bAgent.listInstances, {}), status.PERMISSION_DENIED, new RegExp(`AgentService answers only system:control-plane; node:${A.name} is not`));
    const after = Node.toJSON((await nodeOf(B))!) as Record<string, unknown>;
    delete after.lastSeen;
    delete (before as Record<string, unknown>).lastSeen;
    assert.deepEqual(after, before);
  });

  it("with A's certificate on NATS: B's work subject, B's consumer, the event log and a command subject are permission violations", async () => {
    const nc = await natsAs(stolen(), nodeInbox(nodeIdFor(A.name)));
    const bId = nodeIdFor(B.name);
    const sub = new Promise<unknown>((resolve) => nc.subscribe(`hv.agent.${bId}.>`, { callback: (err) => resolve(err) }));
    violation(await sub, /Permissions Violation for Subscription to "hv\.agent\./);
    await assert.rejects(nc.jetstream().consumers.get(WORK_STREAM, consumerName(bId)), (e) => violation(e, /CONSUMER\.INFO/));
    await assert.rejects(nc.request('$JS.API.STREAM.INFO.HV_LOG', undefined, { timeout: 2_000 }), (e) => violation(e, /HV_LOG/));
    await assert.rejects(nc.request('hv.cmd.instance', sc.encode('{}'), { timeout: 2_000 }), (e) => violation(e, /hv\.cmd\.instance/));
    // Its own plan only: B's desired state, on B's subject or the shared one, is not A's to ask for.
    await assert.rejects(nc.request(`hv.ctl.agent.desired.${bId}`, sc.encode(JSON.stringify({ nodeId: bId })), { timeout: 2_000 }), (e) => violation(e, /hv\.ctl\.agent\.desired/));
    await assert.rejects(nc.request('hv.ctl.agent.desired', sc.encode(JSON.stringify({ nodeId: bId })), { timeout: 2_000 }), (e) => violation(e, /hv\.ctl\.agent\.desired/));
    const own = await nc.request(`hv.ctl.agent.desired.${nodeIdFor(A.name)}`, sc.encode(JSON.stringify({ nodeId: bId })), { timeout: 5_000 });
    assert.equal((JSON.parse(sc.decode(own.data)) as { nodeId: string }).nodeId, nodeIdFor(A.name), 'the answer is for the node the subject names, whatever the body says');
  });

  it("with A's certificate: a report that B's instance stopped, sent on A's own report subject, is PERMISSION_DENIED naming both nodes and the instance stays RUNNING; the same report from B stops it", async () => {
    const compute = client(ComputeServiceClient, adminPair());
    const bId = nodeIdFor(B.name);
    const vm = await call(compute, compute.createInstance, createRequest('on-b', InstanceType.INSTANCE_TYPE_VM, { kernel: images.url('vmlinuz'), memoryBytes: 256 * MiB }, { preferredNodeId: bId }));
    const running = await until('the instance RUNNING on B', async () => {
      const i = await call(compute, compute.getInstance, { instanceId: vm.id });
      return i.state === InstanceState.INSTANCE_STATE_RUNNING ? i : undefined;
    }, 60_000);
    assert.equal(running.nodeId, bId);
    const forged: CommandEnvelope = {
      commandId: `forged-${vm.id}`,
      aggregateType: 'instance',
      aggregateId: vm.id,
      command: { type: 'ReportInstanceStopped', data: { nodeId: bId, generation: t.cp.compute!.instances.state(vm.id)!.generation, reason: 'forged by A' } },
      meta: { actor: `node:${B.name}`, correlationId: 'forged', causationId: 'forged' },
    };
    const nc = await natsAs(stolen(), nodeInbox(nodeIdFor(A.name)));
    const reply = decode<CommandReply>((await nc.request(reportSubject(nodeIdFor(A.name), 'instance'), encode(forged), { timeout: 10_000 })).data);
    assert.deepEqual(reply, {
      ok: false,
      code: status.PERMISSION_DENIED,
      message: `ReportInstanceStopped: instance ${vm.id} is not placed on node:${A.name} (it is on node:${B.name})`,
    });
    // B's own report subject is not A's to publish on at all.
    await assert.rejects(nc.request(reportSubject(bId, 'instance'), encode(forged), { timeout: 2_000 }), (e) => violation(e, /hv\.report\./));
    const after = await call(compute, compute.getInstance, { instanceId: vm.id });
    assert.equal(after.state, InstanceState.INSTANCE_STATE_RUNNING);
    assert.equal(after.stateReason, running.stateReason);
    // The same report from B itself is taken: what A was refused would have stopped the instance.
    const asB = { ca: readFileSync(nodePkiFiles(stateOf(B)).ca), cert: readFileSync(nodePkiFiles(stateOf(B)).cert), key: readFileSync(nodePkiFiles(stateOf(B)).key) };
    const ncB = await natsAs(asB, nodeInbox(bId));
    const taken = decode<CommandReply>((await ncB.request(reportSubject(bId, 'instance'), encode({ ...forged, commandId: `by-b-${vm.id}` }), { timeout: 10_000 })).data);
    assert.equal(taken.ok, true, JSON.stringify(taken));
    const stopped = await call(compute, compute.getInstance, { instanceId: vm.id });
    assert.equal(stopped.state, InstanceState.INSTANCE_STATE_STOPPED);
  });

  it('after RevokeNode A is cut off (gRPC and NATS) and NOT_READY; B keeps working', async () => {
    const nc = await natsAs(stolen(), nodeInbox(nodeIdFor(A.name)));
    const identity = client(IdentityServiceClient, { ca: Buffer.from(t.cp.security!.pki.ca.certPem), cert: readFileSync(t.cp.security!.pki.admin.certFile), key: readFileSync(t.cp.security!.pki.admin.keyFile) });
    await call(identity, identity.revokeNode, { hostname: A.name });
    const asA = client(ClusterServiceClient, stolen());
    await rejectsWith(call(asA, asA.heartbeat, HeartbeatRequest.fromPartial({ nodeId: nodeIdFor(A.name) })), status.UNAUTHENTICATED, /was revoked/);
    await until("NATS dropped A's connection", () => (nc.isClosed() ? true : undefined), 15_000);
    await assert.rejects(natsAs(stolen(), nodeInbox(nodeIdFor(A.name))), /Authorization Violation/i);
    assert.equal((await nodeOf(A))!.status, NodeStatus.NODE_STATUS_NOT_READY);
    const seen = (await nodeOf(B))!.lastSeen!.getTime();
    await until('B heartbeats on', async () => ((await nodeOf(B))!.lastSeen!.getTime() > seen ? true : undefined), 60_000);
    assert.equal((await nodeOf(B))!.status, NodeStatus.NODE_STATUS_READY);
  });
});
