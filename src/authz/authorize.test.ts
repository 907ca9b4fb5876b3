import assert from 'node:assert/strict';
import { Code } from '../errors';
import { authorize } from './authorize';
import type { Identity } from './identity';
import { METHOD_ROLES } from './method-roles';

const viewer: Identity = { name: 'user:vera', role: 'viewer' };
const operator: Identity = { name: 'user:otto', role: 'operator' };
const admin: Identity = { name: 'user:ada', role: 'admin' };
const node: Identity = { name: 'node:h1', role: 'node' };
const C = '/hypervisor.v1.ClusterService/';
const X = '/hypervisor.v1.ComputeService/';
const N = '/hypervisor.v1.NetworkService/';
const I = '/hypervisor.iam.v1.IdentityService/';
const S = '/hypervisor.v1.StorageService/';

describe('authorize', () => {
  it('a call without an identity is UNAUTHENTICATED, except health', () => {
    assert.deepEqual(authorize(undefined, `${X}ListInstances`, {}), {
      allow: false,
      code: Code.UNAUTHENTICATED,
      message: `${X}ListInstances: a client certificate signed by the cluster CA is required`,
    });
    assert.equal(authorize(undefined, '/grpc.health.v1.Health/Check', {}).allow, true);
  });

  it('a method in no table is refused to everyone, the administrator too', () => {
    const d = authorize(admin, '/hypervisor.v1.StorageService/PurgeVolumes', {});
    assert.deepEqual(d, { allow: false, code: Code.PERMISSION_DENIED, message: '/hypervisor.v1.StorageService/PurgeVolumes: no role may call this method' });
  });

  it('a viewer reads everything and writes nothing, console included', () => {
    for (const m of [`${C}ListNodes`, `${X}GetInstance`, `${X}WatchInstance`, `${X}GetInstanceStats`, `${N}ListPorts`, `${S}ListVolumes`, `${S}GetSnapshot`, '/hypervisor.audit.v1.AuditService/ListEvents', `${I}WhoAmI`])
      assert.equal(authorize(viewer, m, {}).allow, true, m);
    for (const m of [`${X}CreateInstance`, `${X}StopInstance`, `${X}AttachConsole`, `${N}CreateNetwork`, `${S}CreateVolume`, `${S}AttachVolume`, `${C}DeregisterNode`]) {
      const d = authorize(viewer, m, {});
      assert.equal(d.allow, false, m);
      if (!d.allow) assert.equal(d.code, Code.PERMISSION_DENIED);
    }
    assert.deepEqual(authorize(viewer, `${X}StopInstance`, {}), {
      allow: false,
      code: Code.PERMISSION_DENIED,
      message: `${X}StopInstance needs the operator role; user:vera has the viewer role`,
    });
  });

  it('an operator writes instances and networks, but not nodes or identities', () => {
    for (const m of [`${X}CreateInstance`, `${X}AttachConsole`, `${N}CreateNetwork`, `${N}AddSecurityRule`, `${X}PullImage`, `${S}CreateVolume`, `${S}DeleteSnapshot`]) assert.equal(authorize(operator, m, {}).allow, true, m);
    assert.deepEqual(authorize(operator, `${C}DeregisterNode`, {}), {
      allow: false,
      code: Code.PERMISSION_DENIED,
      message: `${C}DeregisterNode needs the admin role; user:otto has the operator role`,
    });
    for (const m of [`${C}RegisterNode`, `${C}UpdateNodeStatus`, `${I}CreateUser`, `${I}RevokeCertificate`]) assert.equal(authorize(operator, m, {}).allow, false, m);
  });

  it('an administrator may call every listed method but what only nodes call; a node only its own', () => {
    const nodeOnly = [`${C}RegisterNode`, `${C}Heartbeat`];
    for (const m of Object.keys(METHOD_ROLES)) assert.equal(authorize(admin, m, {}).allow, !nodeOnly.includes(m), m);
    assert.equal(authorize(node, `${C}RegisterNode`, { hostname: 'h1' }).allow, true);
    for (const m of [`${X}CreateInstance`, `${C}DeregisterNode`, `${I}CreateUser`]) assert.equal(authorize(node, m, {}).allow, false, m);
  });

  it('nodes and VTEPs are hidden from a tenant-bound user, whatever the role', () => {
    const tenantAdmin: Identity = { name: 'user:t', role: 'admin', tenant: 'acme' };
    for (const m of [`${C}ListNodes`, `${C}GetNode`, `${N}ListVTEPs`]) {
      const d = authorize(tenantAdmin, m, {});
      assert.equal(d.allow, false, m);
      if (!d.allow) assert.equal(d.code, Code.PERMISSION_DENIED);
    }
  });

  describe('a user bound to a tenant', () => {
    const ann: Identity = { name: 'user:ann', role: 'operator', tenant: 'acme' };
    const owners = { tenantOf: (_k: string, id: string) => ({ 'net-a': 'acme', 'net-b': 'globex', 'net-x': '' })[id] };

    it("gets its tenant written into creates and lists; another named tenant is PERMISSION_DENIED", () => {
      assert.deepEqual(authorize(ann, `${N}CreateNetwork`, { name: 'n', tenantId: '' }, owners), { allow: true, request: { name: 'n', tenantId: 'acme' } });
      assert.deepEqual(authorize(ann, `${N}ListNetworks`, { tenantId: '' }, owners), { allow: true, request: { tenantId: 'acme' } });
      const d = authorize(ann, `${N}CreateRouter`, { tenantId: 'globex' }, owners);
      assert.equal(!d.allow && d.code, Code.PERMISSION_DENIED);
    });

    it("sees another tenant's resource, or one of no tenant, as NOT_FOUND; an unknown one goes on to its handler", () => {
      assert.deepEqual(authorize(ann, `${N}GetNetwork`, { networkId: 'net-b' }, owners), { allow: false, code: Code.NOT_FOUND, message: 'network net-b not found' });
      assert.equal(authorize(ann, `${N}DeleteNetwork`, { networkId: 'net-x' }, owners).allow, false);
      assert.equal(authorize(ann, `${N}GetNetwork`, { networkId: 'net-a' }, owners).allow, true);
      assert.equal(authorize(ann, `${N}GetNetwork`, { networkId: 'nope' }, owners).allow, true);
    });

    it('puts instances in its tenant, on its own networks only', () => {
      const d = authorize(ann, `${X}CreateInstance`, { spec: { network: { networkId: 'net-a', securityGroups: [] } }, metadata: { labels: {}, annotations: {} } }, owners);
      assert.ok(d.allow && (d.request as { metadata: { annotations: Record<string, string> } }).metadata.annotations['hypervisor.tenant'] === 'acme');
      const b = authorize(ann, `${X}CreateInstance`, { spec: { network: { networkId: 'net-b', securityGroups: [] } } }, owners);
      assert.deepEqual(b, { allow: false, code: Code.NOT_FOUND, message: 'network net-b not found' });
    });

    it('must name one of its own when a list would show everyone', () => {
      const d = authorize(ann, `${N}ListPorts`, { networkId: '', instanceId: '' }, owners);
      assert.equal(!d.allow && d.code, Code.PERMISSION_DENIED);
      assert.equal(authorize(ann, '/hypervisor.audit.v1.AuditService/ListEvents', { aggregateType: '', aggregateId: '' }, owners).allow, false);
      assert.equal(authorize(ann, '/hypervisor.audit.v1.AuditService/ListEvents', { aggregateType: 'network', aggregateId: 'net-a' }, owners).allow, true);
    });
  });

  it('the tenant annotation in a create is INVALID_ARGUMENT from anyone', () => {
    const d = authorize(admin, `${X}CreateInstance`, { metadata: { annotations: { 'hypervisor.tenant': 'acme' } } });
    assert.equal(!d.allow && d.code, Code.INVALID_ARGUMENT);
  });
});
