import assert from 'node:assert/strict';
import https from 'node:https';
import { status } from '@grpc/grpc-js';
import { AuditServiceClient, ListEventsRequest } from '../../src/gen/hypervisor/audit/v1/audit';
import { IdentityServiceClient, Role } from '../../src/gen/hypervisor/iam/v1/iam';
import { ClusterServiceClient } from '../../src/gen/hypervisor/v1/cluster';
import { InstanceType } from '../../src/gen/hypervisor/v1/common';
import { ComputeServiceClient } from '../../src/gen/hypervisor/v1/compute';
import { call, rejectsWith } from '../support/control-plane';
import { createRequest } from '../support/compute';
import { nodeRegistration } from '../support/nodes';
import { type KeyPair, NetworkLab } from './support';

describe('the web console in network mode: a login, then the role of who logged in', function () {
  this.timeout(60_000);
  const lab = new NetworkLab();
  let viewer: KeyPair;
  let operator: KeyPair;
  let instanceId: string;
  before(async () => {
    await lab.start();
    const iam = lab.client(IdentityServiceClient, lab.admin);
    const user = async (name: string, role: Role) => {
      await call(iam, iam.createUser, { name, role, tenant: '' });
      const c = await call(iam, iam.issueCertificate, { name, csrPem: '', validDays: 0 });
      return { cert: c.certificatePem, key: c.privateKeyPem };
    };
    viewer = await user('vic', Role.ROLE_VIEWER);
    operator = await user('opal', Role.ROLE_OPERATOR);
    const cluster = lab.client(ClusterServiceClient, lab.admin);
    await call(cluster, cluster.registerNode, nodeRegistration('ui-host', { supportedInstanceTypes: ['vm'] }));
    const compute = lab.client(ComputeServiceClient, lab.admin);
    instanceId = (await call(compute, compute.createInstance, createRequest('ui-vm', InstanceType.INSTANCE_TYPE_VM, { kernel: 'http://127.0.0.1:9/vmlinuz' }))).id;
  });
  after(() => lab.stop());

  /** `hvctl ui login` as `pair`: the one-time URL's path, then the session cookie it sets. */
  const login = async (pair: KeyPair) => {
    const me = lab.client(IdentityServiceClient, pair);
    const { url, expiresAt } = await call(me, me.createConsoleLogin, {});
    assert.ok(expiresAt && expiresAt.getTime() > Date.now());
    const u = new URL(url);
    assert.equal(u.protocol, 'https:');
    const r = await lab.get(u.pathname + u.search);
    assert.equal(r.status, 303);
    const cookie = String(r.headers['set-cookie']);
    assert.match(cookie, /^hv_session=[A-Za-z0-9_-]{43}; Path=\/ui; HttpOnly; Secure; SameSite=Strict; Max-Age=3600$/);
    assert.equal((await lab.get(u.pathname + u.search)).status, 401, 'a login URL works once');
    return { cookie: cookie.split(';')[0], path: u.pathname + u.search };
  };
  const stopRequests = async () => {
    const audit = lab.client(AuditServiceClient, lab.admin);
    const { events } = await call(audit, audit.listEvents, ListEventsRequest.fromPartial({ aggregateType: 'instance', aggregateId: instanceId, pageSize: 100 }));
    return events.filter((e) => e.type === 'InstanceStopRequested').length;
  };

  it('without a session the page and its API answer 401 and its WebSockets refuse; the probes stay open', async () => {
    assert.equal((await lab.get('/ui/')).status, 401);
    assert.equal((await lab.get('/ui/api/cluster')).status, 401);
    assert.equal((await lab.get('/ui/api/cluster', { headers: { cookie: 'hv_session=forged' } })).status, 401);
    const upgraded = await new Promise<number>((resolve, reject) => {
      const req = https.request({
        host: '127.0.0.1',
        port: lab.t.cp.httpPort,
        path: '/ui/api/watch/instances',
        ca: lab.ca,
        servername: 'localhost',
        headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' },
      });
      req.on('response', (res) => resolve(res.statusCode ?? 0));
      req.on('upgrade', () => resolve(101));
      req.on('error', reject);
      req.end();
    });
    assert.equal(upgraded, 401);
    assert.equal((await lab.get('/healthz')).status, 200);
  });

  it("a viewer's session reads, and its Stop is PERMISSION_DENIED (403), nothing written", async () => {
    const { cookie } = await login(viewer);
    const info = await lab.get('/ui/api/cluster', { headers: { cookie } });
    assert.equal(info.status, 200, info.body);
    const before = await stopRequests();
    const stop = await lab.http('POST', `/ui/api/instances/${instanceId}/stop`, { headers: { cookie, origin: `https://127.0.0.1:${lab.t.cp.httpPort}`, host: `127.0.0.1:${lab.t.cp.httpPort}` } });
    assert.equal(stop.status, 403, stop.body);
    assert.match(JSON.parse(stop.body).message, /StopInstance needs the operator role; user:vic has the viewer role/);
    assert.equal(await stopRequests(), before);
  });

  it('a cross-origin request with a valid cookie is refused (403), nothing written', async () => {
    const { cookie } = await login(operator);
    const before = await stopRequests();
    const r = await lab.http('POST', `/ui/api/instances/${instanceId}/stop`, { headers: { cookie, origin: 'https://evil.example', host: `127.0.0.1:${lab.t.cp.httpPort}` } });
    assert.equal(r.status, 403);
    assert.equal(await stopRequests(), before);
  });

  it('the console acts only for sessions: its certificate alone can do nothing', async () => {
    const pki = lab.t.cp.security!.pki;
    const { readFileSync } = await import('node:fs');
    const c = lab.client(ClusterServiceClient, { cert: pki.console.certPem, key: readFileSync(pki.console.keyFile, 'utf8') });
    await rejectsWith(call(c, c.getClusterInfo, {}), status.UNAUTHENTICATED, /the web console calls only on behalf of a session/);
  });
});
