import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type ChannelCredentials, type Client, credentials, status } from '@grpc/grpc-js';
import { AgentServiceClient } from '../../src/gen/hypervisor/v1/agent';
import pino from 'pino';
import type { Agent } from '../../src/agent/agent';
import { join, JoinRefused, nodePkiFiles, renewIfDue } from '../../src/agent/node-credentials';
import { AuditEvent, AuditServiceClient, ListEventsRequest } from '../../src/gen/hypervisor/audit/v1/audit';
import { CreateUserRequest, IdentityServiceClient, Role } from '../../src/gen/hypervisor/iam/v1/iam';
import { ClusterServiceClient, HeartbeatRequest, Node, UpdateNodeStatusRequest } from '../../src/gen/hypervisor/v1/cluster';
import { NodeStatus } from '../../src/gen/hypervisor/v1/common';
import { nodeRegistration } from '../support/nodes';
import { caFingerprint, decodeJoinToken, encodeJoinToken } from '../../src/pki/join-token';
import { startAgent } from '../support/agent';
import { call, rejectsWith } from '../support/control-plane';
import { hvctl, isolatedEnv } from '../support/hvctl';
import { until } from '../support/until';
import { type KeyPair, NetworkLab } from './support';
import { tlsTarget } from '../../src/shared/tls-target';

const LIST = { role: 0, status: 0, region: '', zone: '', labelSelector: {}, pageSize: 100, pageToken: '' };
const quiet = pino({ level: 'silent' });

describe('hosts join with a token (network mode)', function () {
  this.timeout(120_000);
  const lab = new NetworkLab();
  const dirs: string[] = [];
  const agents: Agent[] = [];
  const stateDir = () => {
    const d = mkdtempSync(path.join(os.tmpdir(), 'hv-join-'));
    dirs.push(d);
    return d;
  };
  let admin: ClusterServiceClient;
  const admin_ = () => admin;
  const opened: Client[] = [];
  before(async () => {
    await lab.start();
    admin = lab.client(ClusterServiceClient, lab.admin);
  });
  after(async () => {
    for (const c of opened) c.close();
    for (const a of agents) await a.stop().catch(() => undefined);
    await lab.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  const hostnames = async () => (await call(admin, admin.listNodes, LIST)).nodes.map((n) => n.hostname).sort();
  /** Every event of an aggregate type, as the administrator reads the audit log. */
  const events = async (aggregateType: string) => {
    const audit = lab.client(AuditServiceClient, lab.admin);
    return (await call(audit, audit.listEvents, ListEventsRequest.fromPartial({ aggregateType, pageSize: 500 }))).events.map((e) => ({ ...e, json: JSON.stringify(AuditEvent.toJSON(e)) }));
  };
  const refusedJoin = async (token: string, hostname: string, why: RegExp) => {
    const dir = stateDir();
    const err = await join({ server: lab.t.address, token, hostname, stateDir: dir }, quiet).then(
      () => assert.fail('the join was accepted'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof JoinRefused, String(err));
    assert.equal(err.code, status.UNAUTHENTICATED);
    assert.match(err.message, why);
    assert.ok(!existsSync(nodePkiFiles(dir).cert), 'no certificate kept');
  };

  it('hvctl node join-token create prints a single-use token naming the server and the CA fingerprint; the log keeps only its hash', async () => {
    const pki = lab.t.cp.security!.pki;
    const r = await hvctl(['--server', lab.t.address, '--ca', pki.ca.certFile, '--cert', pki.admin.certFile, '--key', pki.admin.keyFile, 'node', 'join-token', 'create', '--ttl', '15m'], {
      env: isolatedEnv({}),
    });
    assert.equal(r.code, 0, r.stderr);
    const token = r.stdout.trim();
    const t = decodeJoinToken(token);
    assert.equal(t.ca, caFingerprint(lab.ca));
    assert.match(t.server, /:\d+$/);
    assert.match(r.stderr, new RegExp(`join token ${t.id}: single use, until `));
    const created = (await events('join_token')).filter((e) => e.aggregateId === t.id);
    assert.equal(created.length, 1);
    assert.ok(!created.some((e) => e.json.includes(t.secret)), 'the secret is not in the log');
    // A viewer may not make one.
    const viewer = lab.client(IdentityServiceClient, await lab.joinedNode('not-an-admin'));
    await rejectsWith(call(viewer, viewer.createJoinToken, { ttlSeconds: 60, serverAddress: '' }), status.PERMISSION_DENIED, /CreateJoinToken needs the admin role; node:not-an-admin has the node role/);
  });

  it('an agent joins with a token: its own key, its certificate node:<hostname> in <state-dir>/pki (0600), registered as that node; it starts again without the token', async () => {
    const { token } = await lab.joinToken();
    const dir = stateDir();
    const a = await startAgent(lab.t, { driver: 'hollow', hostname: 'joiner-a', stateDir: dir, joinToken: token, server: lab.t.address });
    agents.push(a);
    const files = nodePkiFiles(dir);
    for (const f of [files.ca, files.cert, files.key]) assert.equal(statSync(f).mode & 0o777, 0o600, f);
    const cert = new X509Certificate(readFileSync(files.cert));
    assert.equal(cert.subject, 'CN=node:joiner-a');
    assert.ok(cert.checkIssued(new X509Certificate(lab.ca)));
    assert.deepEqual(await hostnames(), ['joiner-a']);
    const issued = (await events('node_identity')).filter((e) => e.aggregateId === 'joiner-a');
    assert.equal(issued.length, 1);
    assert.equal(issued[0].actor, 'node:joiner-a');
    assert.ok(!issued.some((e) => e.json.includes('PRIVATE KEY')));
    const registered = (await events('node')).find((e) => e.json.includes('joiner-a'));
    assert.equal(registered?.actor, 'node:joiner-a', 'it registered as its node identity');

    await a.stop();
    agents.splice(agents.indexOf(a), 1);
    const again = await startAgent(lab.t, { driver: 'hollow', hostname: 'joiner-a', stateDir: dir, server: lab.t.address });
    agents.push(again);
    assert.equal(again.cfg.tlsCert, files.cert, 'started from <state-dir>/pki');
    assert.equal(new X509Certificate(readFileSync(files.cert)).serialNumber, cert.serialNumber, 'nothing to renew yet');
  });

  it('the same token again, an expired, a revoked and a forged one: UNAUTHENTICATED saying which, nothing registered', async () => {
    const before = await hostnames();
    const identitiesBefore = (await events('node_identity')).length;
    const used = await lab.joinToken();
    const pki = stateDir();
    await join({ server: lab.t.address, token: used.token, hostname: 'uses-it', stateDir: pki }, quiet);
    await refusedJoin(used.token, 'second-user', /^join token [0-9a-f]{16} was already used \(by node:uses-it at /);

    const short = await lab.joinToken(1);
    await until('the token expired', () => (Date.now() > short.expiresAt!.getTime() ? true : undefined), 5_000);
    await refusedJoin(short.token, 'late-host', new RegExp(`^join token ${short.id} expired at `));

    const revoked = await lab.joinToken();
    const identity = lab.client(IdentityServiceClient, lab.admin);
    await call(identity, identity.revokeJoinToken, { id: revoked.id });
    await refusedJoin(revoked.token, 'revoked-host', new RegExp(`^join token ${revoked.id} was revoked at `));

    const real = decodeJoinToken((await lab.joinToken()).token);
    await refusedJoin(encodeJoinToken({ ...real, secret: 'guessed' }), 'forger', new RegExp(`^join token ${real.id} is forged: this cluster never issued it`));
    await refusedJoin(encodeJoinToken({ ...real, id: '00000000deadbeef' }), 'forger', /^join token 00000000deadbeef is forged/);

    assert.deepEqual(await hostnames(), before, 'no node registered');
    assert.equal((await events('node_identity')).length, identitiesBefore + 1, 'only the genuine join recorded a certificate');
  });

  it('a token whose CA fingerprint is not the server\'s CA: the agent refuses the server before sending anything', async () => {
    const real = decodeJoinToken((await lab.joinToken()).token);
    const dir = stateDir();
    await assert.rejects(join({ server: lab.t.address, token: encodeJoinToken({ ...real, ca: `sha256:${'0'.repeat(64)}` }), hostname: 'pinned', stateDir: dir }, quiet), /does not present the CA the join token names/);
    // The token was not spent: the genuine one still works.
    await join({ server: lab.t.address, token: encodeJoinToken(real), hostname: 'pinned', stateDir: dir }, quiet);
  });

  it("AgentService serves TLS only and answers only system:control-plane: another node's certificate, a user's, none, plaintext are refused; the server reaches it as itself", async () => {
    const a = agents.find((x) => x.cfg.hostname === 'joiner-a')!;
    const address = `127.0.0.1:${a.port}`;
    const pair = (p: KeyPair) => credentials.createSsl(Buffer.from(lab.ca), Buffer.from(p.key), Buffer.from(p.cert), { checkServerIdentity: () => undefined });
    const agentAs = (creds: ChannelCredentials) => {
      const c = new AgentServiceClient(address, creds, tlsTarget(address).channelOptions);
      opened.push(c);
      return c;
    };
    const empty = {};
    const other = agentAs(pair(await lab.joinedNode('other-host')));
    await rejectsWith(call(other, other.listInstances, empty), status.PERMISSION_DENIED, /^\/hypervisor\.v1\.AgentService\/ListInstances: AgentService answers only system:control-plane; node:other-host is not$/);
    const admin = agentAs(pair(lab.admin));
    await rejectsWith(call(admin, admin.listInstances, empty), status.PERMISSION_DENIED, /AgentService answers only system:control-plane; local:admin is not$/);
    const noCert = agentAs(credentials.createSsl(Buffer.from(lab.ca), null, null, { checkServerIdentity: () => undefined }));
    await rejectsWith(call(noCert, noCert.listInstances, empty), status.UNAVAILABLE);
    const plain = agentAs(credentials.createInsecure());
    await rejectsWith(call(plain, plain.listInstances, empty), status.UNAVAILABLE);
    // The server's own client (console, stats): its identity, and the agent must be node:joiner-a.
    const agents_ = lab.t.cp.compute!.agents;
    const server = agents_.get({ address, hostname: 'joiner-a', tls: true });
    assert.deepEqual((await call(server, server.listInstances, empty)).instances, []);
    const impostor = agents_.get({ address, hostname: 'host-b', tls: true });
    await rejectsWith(call(impostor, impostor.listInstances, empty), status.UNAVAILABLE, /not node:host-b|node:joiner-a/);
    const registered = (await call(admin_(), admin_().listNodes, LIST)).nodes.find((n) => n.hostname === 'joiner-a');
    assert.equal(registered?.metadata?.annotations['hypervisor.agent-tls'], 'true', 'the node says it serves TLS');
  });

  it("with node A's certificate: RegisterNode as B, Heartbeat for B, UpdateNodeStatus of B are PERMISSION_DENIED naming the node; nothing of B changes", async () => {
    const asA = lab.client(ClusterServiceClient, await lab.joinedNode('host-a'));
    const asB = lab.client(ClusterServiceClient, await lab.joinedNode('host-b'));
    const a = await call(asA, asA.registerNode, nodeRegistration('host-a'));
    const b = await call(asB, asB.registerNode, nodeRegistration('host-b'));
    await call(asA, asA.heartbeat, HeartbeatRequest.fromPartial({ nodeId: a.nodeId }));
    const before = await call(admin, admin.getNode, { nodeId: b.nodeId });
    await rejectsWith(call(asA, asA.registerNode, nodeRegistration('host-b')), status.PERMISSION_DENIED, /RegisterNode: node:host-a may register only its own host name "host-a", not "host-b"$/);
    await rejectsWith(call(asA, asA.heartbeat, HeartbeatRequest.fromPartial({ nodeId: b.nodeId })), status.PERMISSION_DENIED, new RegExp(`Heartbeat: node:host-a may act only for its own node; node ${b.nodeId} is node:host-b$`));
    await rejectsWith(
      call(asA, asA.updateNodeStatus, UpdateNodeStatusRequest.fromPartial({ nodeId: b.nodeId, status: NodeStatus.NODE_STATUS_MAINTENANCE })),
      status.PERMISSION_DENIED,
      /UpdateNodeStatus: node:host-a may act only for its own node/,
    );
    assert.deepEqual(Node.toJSON(await call(admin, admin.getNode, { nodeId: b.nodeId })), Node.toJSON(before), 'nothing of B changed');
    // A user's certificate, even an administrator's, does not act as a node.
    const ada = lab.client(IdentityServiceClient, lab.admin);
    await call(ada, ada.createUser, CreateUserRequest.fromPartial({ name: 'ada', role: Role.ROLE_ADMIN }));
    const issued = await call(ada, ada.issueCertificate, { name: 'ada', csrPem: '', validDays: 1 });
    const asAda = lab.client(ClusterServiceClient, { cert: issued.certificatePem, key: issued.privateKeyPem });
    await rejectsWith(call(asAda, asAda.registerNode, nodeRegistration('host-b')), status.PERMISSION_DENIED, /only a node's own certificate may call this; user:ada is a user$/);
  });

  it("hvctl node revoke: the node's certificate is refused at once, the node goes NOT_READY, another node keeps working", async () => {
    const b = await startAgent(lab.t, { driver: 'hollow', hostname: 'joiner-b', stateDir: stateDir(), joinToken: (await lab.joinToken()).token, server: lab.t.address });
    agents.push(b);
    const a = agents.find((x) => x.cfg.hostname === 'joiner-a')!;
    // What an attacker on host A reads from its state dir.
    const files = nodePkiFiles(a.cfg.stateDir);
    const asA = lab.client(ClusterServiceClient, { cert: readFileSync(files.cert, 'utf8'), key: readFileSync(files.key, 'utf8') });
    await call(asA, asA.heartbeat, HeartbeatRequest.fromPartial({ nodeId: a.nodeId }));
    const pki = lab.t.cp.security!.pki;
    const r = await hvctl(['--server', lab.t.address, '--ca', pki.ca.certFile, '--cert', pki.admin.certFile, '--key', pki.admin.keyFile, 'node', 'revoke', 'joiner-a'], { env: isolatedEnv({}) });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /node:joiner-a revoked; its guests keep running/);
    await rejectsWith(call(asA, asA.heartbeat, HeartbeatRequest.fromPartial({ nodeId: a.nodeId })), status.UNAUTHENTICATED, /certificate [0-9a-f]+ of node:joiner-a was revoked at /);
    await rejectsWith(call(asA, asA.registerNode, nodeRegistration('joiner-a')), status.UNAUTHENTICATED, /was revoked/);
    const statusOf = async (host: string) => (await call(admin, admin.listNodes, LIST)).nodes.find((n) => n.hostname === host)!;
    assert.equal((await statusOf('joiner-a')).status, NodeStatus.NODE_STATUS_NOT_READY);
    // B keeps working: its own certificate still heartbeats, and its node stays READY.
    const bFiles = nodePkiFiles(b.cfg.stateDir);
    const asB = lab.client(ClusterServiceClient, { cert: readFileSync(bFiles.cert, 'utf8'), key: readFileSync(bFiles.key, 'utf8') });
    await call(asB, asB.heartbeat, HeartbeatRequest.fromPartial({ nodeId: b.nodeId }));
    assert.equal((await statusOf('joiner-b')).status, NodeStatus.NODE_STATUS_READY);
    // The revocation is in the log, by whom.
    const revoked = (await events('node_identity')).filter((e) => e.aggregateId === 'joiner-a' && e.type === 'NodeIdentityRevoked');
    assert.deepEqual(revoked.map((e) => e.actor), ['local:admin']);
  });

  it('hvctl feed credentials create writes an integrator\'s certificate (key 0600) and prints its consumer; hvctl nats authorization names it and the nodes; revoke takes it out', async () => {
    const pki = lab.t.cp.security!.pki;
    const out = stateDir();
    const flags = ['--server', lab.t.address, '--ca', pki.ca.certFile, '--cert', pki.admin.certFile, '--key', pki.admin.keyFile];
    const made = await hvctl([...flags, 'feed', 'credentials', 'create', 'billing', '--filter', 'hv.events.v1.instance.>', '--out', out], { env: isolatedEnv({}) });
    assert.equal(made.code, 0, made.stderr);
    assert.equal(made.stdout.trim(), 'feed-billing');
    assert.equal(statSync(path.join(out, 'billing.key')).mode & 0o777, 0o600);
    assert.equal(new X509Certificate(readFileSync(path.join(out, 'billing.crt'))).subject, 'CN=feed:billing');
    const nc = await lab.t.nats.connect();
    const jsm = await nc.jetstreamManager();
    const info = await jsm.consumers.info('HV_EVENTS', 'feed-billing');
    assert.equal(info.config.filter_subject, 'hv.events.v1.instance.>');
    const block = await hvctl([...flags, 'nats', 'authorization'], { env: isolatedEnv({}) });
    assert.equal(block.code, 0, block.stderr);
    assert.match(block.stdout, /verify_and_map: true/);
    assert.match(block.stdout, /user: "CN=feed:billing", permissions: \{ publish: \{ allow: \["\$JS\.API\.INFO", "\$JS\.API\.CONSUMER\.INFO\.HV_EVENTS\.feed-billing"/);
    assert.match(block.stdout, /user: "CN=node:joiner-b"/);
    assert.doesNotMatch(block.stdout, /CN=node:joiner-a"/, 'a revoked node is not in it');
    const revoked = await hvctl([...flags, 'feed', 'credentials', 'revoke', 'billing'], { env: isolatedEnv({}) });
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.doesNotMatch((await hvctl([...flags, 'nats', 'authorization'], { env: isolatedEnv({}) })).stdout, /feed:billing/);
    await assert.rejects(jsm.consumers.info('HV_EVENTS', 'feed-billing'));
    await nc.close();
  });

  it("DeregisterNode takes the node's identity with it: its certificate is refused afterwards", async () => {
    const pair = await lab.joinedNode('leaving');
    const asLeaving = lab.client(ClusterServiceClient, pair);
    const { nodeId } = await call(asLeaving, asLeaving.registerNode, nodeRegistration('leaving'));
    await call(admin, admin.deregisterNode, { nodeId });
    await rejectsWith(call(asLeaving, asLeaving.registerNode, nodeRegistration('leaving')), status.UNAUTHENTICATED, /certificate [0-9a-f]+ of node:leaving was revoked/);
    assert.ok(!(await hostnames()).includes('leaving'), 'nothing registered again');
  });

  it('a joined node renews its own certificate before it expires (same key, new serial, recorded); a user cannot', async () => {
    const dir = stateDir();
    const tls = await join({ server: lab.t.address, token: (await lab.joinToken()).token, hostname: 'renewer', stateDir: dir }, quiet);
    const old = new X509Certificate(readFileSync(tls.tlsCert));
    assert.equal(await renewIfDue(lab.t.address, tls, 'renewer', quiet), false, 'not due yet');
    const later = new Date(Date.parse(old.validTo) - 24 * 3600_000);
    assert.equal(await renewIfDue(lab.t.address, tls, 'renewer', quiet, later), true);
    const renewed = new X509Certificate(readFileSync(tls.tlsCert));
    assert.notEqual(renewed.serialNumber, old.serialNumber);
    assert.ok(renewed.publicKey.equals(old.publicKey), 'the key stayed on the host');
    assert.equal((await events('node_identity')).filter((e) => e.aggregateId === 'renewer').length, 2);
    const adminId = lab.client(IdentityServiceClient, lab.admin);
    await rejectsWith(call(adminId, adminId.renewNodeCertificate, { csrPem: 'x' }), status.PERMISSION_DENIED, /only a node renews its own certificate; local:admin is not a node/);
  });
});
