import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { status } from '@grpc/grpc-js';
import { AuditServiceClient } from '../../src/gen/hypervisor/audit/v1/audit';
import { ClusterServiceClient } from '../../src/gen/hypervisor/v1/cluster';
import { HealthClient } from '../../src/gen/grpc/health/v1/health';
import { ensureClusterPki } from '../../src/pki/cluster-pki';
import { call, rejectsWith } from '../support/control-plane';
import { nodeRegistration } from '../support/nodes';
import { NetworkLab } from './support';
import { peerCertificateReads } from '../../src/grpc/auth/connection';
import os from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';

const LIST = { role: 0, status: 0, region: '', zone: '', labelSelector: {}, pageSize: 100, pageToken: '' };

describe('network mode: TLS 1.3 and client certificates of the cluster CA', function () {
  this.timeout(60_000);
  const lab = new NetworkLab();
  let admin: ClusterServiceClient;
  before(async () => {
    await lab.start();
    admin = lab.client(ClusterServiceClient, lab.admin);
  });
  after(() => lab.stop());

  /** What is in the log: the nodes, as the administrator sees them. */
  const nodes = async () => (await call(admin, admin.listNodes, LIST)).nodes.map((n) => n.hostname).sort();

  it('is in network mode because it listens beyond loopback, with its PKI in <data-dir>/pki', () => {
    const s = lab.t.cp.security!;
    assert.equal(s.mode, 'network');
    for (const f of ['ca.key', 'server.key', 'admin.key']) assert.equal(statSync(path.join(lab.t.dataDir, 'pki', f)).mode & 0o777, 0o600);
    assert.ok(existsSync(path.join(lab.t.dataDir, 'pki', 'serving-tls')), 'hvctl on this host learns that it must use TLS');
  });

  it("the administrator's certificate from <data-dir>/pki writes, and is the actor of what it wrote", async () => {
    const r = await call(admin, admin.registerNode, nodeRegistration('net-admin'), { 'x-actor': 'ticket-42' });
    const audit = lab.client(AuditServiceClient, lab.admin);
    const events = (await call(audit, audit.listEvents, { aggregateType: 'node', aggregateId: r.nodeId, actor: '', sinceRevision: 0n, fromTime: undefined, toTime: undefined, types: [], pageSize: 10, pageToken: '' })).events;
    assert.deepEqual([events[0].actor, events[0].onBehalfOf], ['local:admin', 'ticket-42']);
  });

  const refusedWith = async (label: string, client: ClusterServiceClient, code: number, message: RegExp) => {
    const before = await nodes();
    await rejectsWith(call(client, client.registerNode, nodeRegistration(`net-${label}`)), code, message);
    await rejectsWith(call(client, client.listNodes, LIST), code, message);
    assert.deepEqual(await nodes(), before, `${label}: nothing was written`);
  };

  it('no client certificate: UNAUTHENTICATED, nothing written', () =>
    refusedWith('none', lab.client(ClusterServiceClient), status.UNAUTHENTICATED, /RegisterNode|ListNodes.*client certificate signed by the cluster CA is required/));

  it('a certificate of another CA: UNAUTHENTICATED, nothing written', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hv-other-ca-'));
    try {
      const other = await ensureClusterPki({ dataDir: dir, sans: [] });
      const pair = { cert: readFileSync(other.admin.certFile, 'utf8'), key: readFileSync(other.admin.keyFile, 'utf8') };
      await refusedWith('other-ca', lab.client(ClusterServiceClient, pair), status.UNAUTHENTICATED, /client certificate signed by the cluster CA is required/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an expired certificate: UNAUTHENTICATED, nothing written', async () =>
    refusedWith('expired', lab.client(ClusterServiceClient, await lab.certificate('local:admin', -1)), status.UNAUTHENTICATED, /client certificate/));

  it("the server's own certificate presented as a client's: UNAUTHENTICATED, nothing written", () =>
    refusedWith('server-cert', lab.client(ClusterServiceClient, lab.server), status.UNAUTHENTICATED, /client certificate/));

  it('a certificate of the CA naming no identity of the cluster: UNAUTHENTICATED', async () =>
    refusedWith('stranger', lab.client(ClusterServiceClient, await lab.certificate('someone')), status.UNAUTHENTICATED, /someone is not an identity of this cluster/));

  it('plaintext is refused (the handshake fails: UNAVAILABLE), and so is TLS below 1.3', async () => {
    const plain = lab.plaintext(ClusterServiceClient);
    await rejectsWith(call(plain, plain.listNodes, LIST, {}, { deadline: Date.now() + 5000 }), status.UNAVAILABLE);
    const err = await new Promise<Error | undefined>((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port: lab.t.cp.grpcPort, ca: lab.ca, maxVersion: 'TLSv1.2', ALPNProtocols: ['h2'] }, () => {
        s.end();
        resolve(undefined);
      });
      s.on('error', (e) => resolve(e));
    });
    assert.ok(err, 'a TLS 1.2 handshake must fail');
  });

  it("a node's certificate registers its node but reads nothing else: PERMISSION_DENIED naming the method and the role", async () => {
    const node = lab.client(ClusterServiceClient, await lab.joinedNode('net-node'));
    await call(node, node.registerNode, nodeRegistration('net-node'));
    await rejectsWith(call(node, node.listNodes, LIST), status.PERMISSION_DENIED, /^\/hypervisor\.v1\.ClusterService\/ListNodes needs the viewer role; node:net-node has the node role$/);
    const before = await nodes();
    await rejectsWith(call(node, node.deregisterNode, { nodeId: 'x' }), status.PERMISSION_DENIED, /DeregisterNode needs the admin role/);
    assert.deepEqual(await nodes(), before);
  });

  it("reads a connection's client certificate once, not on every call it carries", async () => {
    // Who the certificate names is still asked on every call: the revocation tests (identities, replicas) revoke under an open connection.
    const reads = peerCertificateReads();
    const c = lab.client(ClusterServiceClient, lab.admin);
    for (let i = 0; i < 20; i++) await call(c, c.listNodes, LIST);
    assert.equal(peerCertificateReads() - reads, 1, 'twenty calls on one connection read its certificate once');
    const d = lab.client(ClusterServiceClient, lab.admin);
    for (let i = 0; i < 5; i++) await call(d, d.listNodes, LIST);
    assert.equal(peerCertificateReads() - reads, 2, 'a new connection reads its own');
  });

  it('health answers without a certificate (load balancers probe it)', async () => {
    const h = lab.client(HealthClient);
    const r = await call(h, h.check, { service: '' });
    assert.equal(r.status, 1);
  });

  it('HTTP: the probes are open and say only the status; /metrics needs loopback or a viewer; the console is closed', async () => {
    const healthz = await lab.get('/healthz', { from: 'network' });
    assert.deepEqual([healthz.status, healthz.body], [200, 'ok\n']);
    assert.equal((await lab.get('/readyz', { from: 'network' })).status, 200);
    assert.equal((await lab.get('/metrics', { from: 'network' })).status, 401);
    assert.equal((await lab.get('/metrics', { from: 'network', pair: await lab.joinedNode('metrics-h') })).status, 401, 'a node is no viewer');
    const byAdmin = await lab.get('/metrics', { from: 'network', pair: lab.admin });
    assert.equal(byAdmin.status, 200);
    assert.match(byAdmin.body, /^hv_insecure_listener 0$/m);
    assert.equal((await lab.get('/metrics')).status, 200, 'loopback');
    assert.equal((await lab.get('/ui/')).status, 401);
  });
});
