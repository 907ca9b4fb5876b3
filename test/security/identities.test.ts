import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { AuditServiceClient, ListEventsRequest } from '../../src/gen/hypervisor/audit/v1/audit';
import { IdentityServiceClient, Role } from '../../src/gen/hypervisor/iam/v1/iam';
import { ClusterServiceClient } from '../../src/gen/hypervisor/v1/cluster';
import { ComputeServiceClient } from '../../src/gen/hypervisor/v1/compute';
import { CreateNetworkRequest, NetworkServiceClient, NetworkType } from '../../src/gen/hypervisor/v1/network';
import { newKey, openssl, withScratch } from '../../src/pki/openssl';
import { certificateFacts } from '../../src/pki/certificate';
import { call, rejectsWith, until } from '../support/control-plane';
import { nodeRegistration } from '../support/nodes';
import { type KeyPair, NetworkLab } from './support';

const LIST = { role: 0, status: 0, region: '', zone: '', labelSelector: {}, pageSize: 100, pageToken: '' };

describe('identities: users, roles and certificates in the log (network mode)', function () {
  this.timeout(60_000);
  const lab = new NetworkLab();
  let iam: IdentityServiceClient;
  let admin: ClusterServiceClient;
  before(async () => {
    await lab.start();
    iam = lab.client(IdentityServiceClient, lab.admin);
    admin = lab.client(ClusterServiceClient, lab.admin);
  });
  after(() => lab.stop());

  /** A user with a certificate the server made (its key returned once). */
  const user = async (name: string, role: Role, tenant = ''): Promise<KeyPair> => {
    await call(iam, iam.createUser, { name, role, tenant });
    const issued = await call(iam, iam.issueCertificate, { name, csrPem: '', validDays: 0 });
    return { cert: issued.certificatePem, key: issued.privateKeyPem };
  };
  const nodes = async () => (await call(admin, admin.listNodes, LIST)).nodes.map((n) => n.hostname).sort();
  const events = async (aggregateType: string, aggregateId: string) => {
    const audit = lab.client(AuditServiceClient, lab.admin);
    return (await call(audit, audit.listEvents, ListEventsRequest.fromPartial({ aggregateType, aggregateId, pageSize: 100 }))).events;
  };

  it('creates a user, issues it a certificate with a key made once, and the user is who WhoAmI says', async () => {
    const pair = await user('alice', Role.ROLE_OPERATOR);
    assert.match(pair.key, /BEGIN PRIVATE KEY/);
    const me = lab.client(IdentityServiceClient, pair);
    assert.deepEqual(await call(me, me.whoAmI, {}), { identity: 'user:alice', role: Role.ROLE_OPERATOR, tenant: '', mode: 'network' });
    const got = await call(iam, iam.getUser, { name: 'alice' });
    assert.equal(got.certificates.length, 1);
    assert.equal(got.certificates[0].serial, certificateFacts(pair.cert).serial);
    assert.equal(got.certificates[0].fingerprint, certificateFacts(pair.cert).fingerprint);
    // The log says who made whom what, and never holds the key.
    const log = await events('user', 'alice');
    assert.deepEqual(log.map((e) => [e.type, e.actor]), [['UserCreated', 'local:admin'], ['CertificateIssued', 'local:admin']]);
    assert.deepEqual(Object.keys(log[1].data!).sort(), ['fingerprint', 'notAfter', 'serial']);
    assert.ok(!JSON.stringify(log.map((e) => e.data)).includes('PRIVATE KEY'));
  });

  it('signs a CSR without seeing its key; the name in the certificate is the server’s to give', async () => {
    await call(iam, iam.createUser, { name: 'carol', role: Role.ROLE_VIEWER, tenant: '' });
    const key = await newKey();
    const csrPem = await withScratch(async (file) => openssl(['req', '-new', '-key', await file('k', key), '-subj', '/CN=local:admin']));
    const issued = await call(iam, iam.issueCertificate, { name: 'carol', csrPem, validDays: 7 });
    assert.equal(issued.privateKeyPem, '');
    assert.equal(certificateFacts(issued.certificatePem).commonName, 'user:carol');
    const me = lab.client(IdentityServiceClient, { cert: issued.certificatePem, key });
    assert.equal((await call(me, me.whoAmI, {})).identity, 'user:carol');
    await rejectsWith(call(iam, iam.issueCertificate, { name: 'carol', csrPem: 'not a csr', validDays: 0 }), status.INVALID_ARGUMENT, /^csr: not a PEM certificate signing request/);
    await rejectsWith(call(iam, iam.issueCertificate, { name: 'nobody', csrPem: '', validDays: 0 }), status.NOT_FOUND, /user nobody not found/);
  });

  it("a viewer's writes are PERMISSION_DENIED naming the method and the role, and write nothing", async () => {
    const viewer = lab.client(ClusterServiceClient, await user('vera', Role.ROLE_VIEWER));
    await call(viewer, viewer.listNodes, LIST);
    const before = await nodes();
    await rejectsWith(call(viewer, viewer.registerNode, nodeRegistration('by-vera')), status.PERMISSION_DENIED, /^\/hypervisor\.v1\.ClusterService\/RegisterNode needs the node role; user:vera has the viewer role$/);
    assert.deepEqual(await nodes(), before);
  });

  it("a viewer's console is PERMISSION_DENIED before anything reaches the instance", async () => {
    const c = lab.client(ComputeServiceClient, await user('vivian', Role.ROLE_VIEWER));
    const stream = c.attachConsole();
    const ended = new Promise<{ code: number; details: string }>((resolve) => {
      stream.on('error', (e: { code: number; details: string }) => resolve(e));
      stream.on('data', () => undefined);
    });
    stream.write({ instanceId: 'any', tty: true, width: 80, height: 24, data: Buffer.alloc(0) });
    const e = await ended;
    assert.equal(e.code, status.PERMISSION_DENIED);
    assert.match(e.details, /^\/hypervisor\.v1\.ComputeService\/AttachConsole needs the operator role; user:vivian has the viewer role$/);
  });

  it("an operator's DeregisterNode and user creation are PERMISSION_DENIED, and write nothing", async () => {
    const pair = await user('otto', Role.ROLE_OPERATOR);
    const { nodeId } = await call(admin, admin.registerNode, nodeRegistration('kept'));
    const op = lab.client(ClusterServiceClient, pair);
    await rejectsWith(call(op, op.deregisterNode, { nodeId }), status.PERMISSION_DENIED, /DeregisterNode needs the admin role; user:otto has the operator role/);
    assert.ok((await nodes()).includes('kept'));
    const opIam = lab.client(IdentityServiceClient, pair);
    await rejectsWith(call(opIam, opIam.createUser, { name: 'mallory', role: Role.ROLE_ADMIN, tenant: '' }), status.PERMISSION_DENIED, /CreateUser needs the admin role/);
    await rejectsWith(call(iam, iam.getUser, { name: 'mallory' }), status.NOT_FOUND);
  });

  it("x-actor from an operator is ignored (the audit names the real identity); from an administrator it is kept beside it", async () => {
    const pair = await user('olga', Role.ROLE_OPERATOR);
    const op = lab.client(IdentityServiceClient, pair);
    assert.equal((await call(op, op.whoAmI, {}, { 'x-actor': 'user:ada' })).identity, 'user:olga');
    await call(iam, iam.setUserRole, { name: 'olga', role: Role.ROLE_ADMIN }, { 'x-actor': 'ticket-7' });
    // (A write an administrator makes; registering a node is a node's own, Security II.)
    const spoofer = lab.client(NetworkServiceClient, await user('sam', Role.ROLE_ADMIN));
    const made = await call(spoofer, spoofer.createNetwork, CreateNetworkRequest.fromPartial({ name: 'sam-net', type: NetworkType.NETWORK_TYPE_VXLAN }), { 'x-actor': 'someone-else' });
    const registered = (await events('network', made.network!.id))[0];
    assert.deepEqual([registered.actor, registered.onBehalfOf], ['user:sam', 'someone-else']);
    const bound = (await events('user', 'olga')).find((e) => e.type === 'RoleBound')!;
    assert.deepEqual([bound.actor, bound.onBehalfOf], ['local:admin', 'ticket-7']);
  });

  it("an operator's x-actor is not recorded at all", async () => {
    const n = lab.client(NetworkServiceClient, await user('oscar', Role.ROLE_OPERATOR));
    const created = await call(n, n.createNetwork, CreateNetworkRequest.fromPartial({ name: 'oscar-net', type: NetworkType.NETWORK_TYPE_VXLAN }), { 'x-actor': 'user:ada' });
    const e = (await events('network', created.network!.id))[0];
    assert.deepEqual([e.actor, e.onBehalfOf], ['user:oscar', '']);
  });

  it('a revoked certificate is refused (UNAUTHENTICATED), and writes nothing', async () => {
    const pair = await user('rita', Role.ROLE_ADMIN);
    const c = lab.client(ClusterServiceClient, pair);
    await call(c, c.listNodes, LIST);
    await call(iam, iam.revokeCertificate, { name: 'rita', serial: certificateFacts(pair.cert).serial });
    const before = await nodes();
    await until('the revocation is read', async () => (await call(c, c.listNodes, LIST).then(() => false, (e) => e.code === status.UNAUTHENTICATED)) || undefined);
    await rejectsWith(call(c, c.registerNode, nodeRegistration('by-rita')), status.UNAUTHENTICATED, /certificate [0-9a-f]+ of user:rita was revoked/);
    assert.deepEqual(await nodes(), before);
  });

  it("a deleted user's certificate is refused (UNAUTHENTICATED), also after a user of the same name is made again", async () => {
    const pair = await user('dave', Role.ROLE_ADMIN);
    const c = lab.client(ClusterServiceClient, pair);
    await call(iam, iam.deleteUser, { name: 'dave' });
    await rejectsWith(call(c, c.listNodes, LIST), status.UNAUTHENTICATED, /user:dave does not exist/);
    await call(iam, iam.createUser, { name: 'dave', role: Role.ROLE_ADMIN, tenant: '' });
    const before = await nodes();
    await rejectsWith(call(c, c.registerNode, nodeRegistration('by-dave')), status.UNAUTHENTICATED, /was revoked/);
    assert.deepEqual(await nodes(), before);
  });

  it('lists users by tenant, and refuses bad input with INVALID_ARGUMENT naming the field', async () => {
    await call(iam, iam.createUser, { name: 'tina', role: Role.ROLE_VIEWER, tenant: 'acme' });
    const acme = await call(iam, iam.listUsers, { tenant: 'acme', pageSize: 0, pageToken: '' });
    assert.deepEqual(acme.users.map((u) => [u.name, u.tenant]), [['tina', 'acme']]);
    await rejectsWith(call(iam, iam.createUser, { name: 'Bad Name', role: Role.ROLE_VIEWER, tenant: '' }), status.INVALID_ARGUMENT, /^name: "Bad Name" is not a user name/);
    await rejectsWith(call(iam, iam.createUser, { name: 'nora', role: Role.ROLE_NODE, tenant: '' }), status.INVALID_ARGUMENT, /^role: .* is not a user role/);
    await rejectsWith(call(iam, iam.createUser, { name: 'tina', role: Role.ROLE_ADMIN, tenant: '' }), status.ALREADY_EXISTS, /user tina already exists/);
    await rejectsWith(call(iam, iam.getUser, { name: 'nora' }), status.NOT_FOUND);
  });
});
