import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { IdentityServiceClient, Role } from '../../src/gen/hypervisor/iam/v1/iam';
import { ClusterServiceClient } from '../../src/gen/hypervisor/v1/cluster';
import { InstanceType } from '../../src/gen/hypervisor/v1/common';
import { ComputeServiceClient } from '../../src/gen/hypervisor/v1/compute';
import {
  CreateNetworkRequest,
  CreatePortRequest,
  CreateSubnetRequest,
  ListNetworksRequest,
  NetworkServiceClient,
  NetworkType,
} from '../../src/gen/hypervisor/v1/network';
import { CreateVolumeRequest, ListVolumesRequest, StorageServiceClient } from '../../src/gen/hypervisor/v1/storage';
import { call, rejectsWith } from '../support/control-plane';
import { createRequest } from '../support/compute';
import { nodeRegistration } from '../support/nodes';
import { NetworkLab } from './support';

const LIST_INSTANCES = { nodeId: '', type: 0, state: 0, labelSelector: {}, pageSize: 100, pageToken: '' };

describe('tenants: a user bound to one sees and changes only its own (network mode)', function () {
  this.timeout(60_000);
  const lab = new NetworkLab();
  let a: { net: NetworkServiceClient; compute: ComputeServiceClient; cluster: ClusterServiceClient; storage: StorageServiceClient };
  let b: { net: NetworkServiceClient; compute: ComputeServiceClient; storage: StorageServiceClient };
  let admin: { net: NetworkServiceClient; compute: ComputeServiceClient; storage: StorageServiceClient };
  let bNet: string;
  let bPort: string;
  let bInstance: string;
  let bVolume: string;

  before(async () => {
    await lab.start();
    const iam = lab.client(IdentityServiceClient, lab.admin);
    const user = async (name: string, tenant: string) => {
      await call(iam, iam.createUser, { name, role: Role.ROLE_OPERATOR, tenant });
      const c = await call(iam, iam.issueCertificate, { name, csrPem: '', validDays: 0 });
      return { cert: c.certificatePem, key: c.privateKeyPem };
    };
    const pa = await user('ann', 'acme');
    const pb = await user('bob', 'globex');
    a = { net: lab.client(NetworkServiceClient, pa), compute: lab.client(ComputeServiceClient, pa), cluster: lab.client(ClusterServiceClient, pa), storage: lab.client(StorageServiceClient, pa) };
    b = { net: lab.client(NetworkServiceClient, pb), compute: lab.client(ComputeServiceClient, pb), storage: lab.client(StorageServiceClient, pb) };
    admin = { net: lab.client(NetworkServiceClient, lab.admin), compute: lab.client(ComputeServiceClient, lab.admin), storage: lab.client(StorageServiceClient, lab.admin) };
    // A node that says it runs VMs, so creates are accepted (no agent: they stay pending).
    const cluster = lab.client(ClusterServiceClient, lab.admin);
    await call(cluster, cluster.registerNode, nodeRegistration('tenant-host', { supportedInstanceTypes: ['vm'], capacity: { cpuCores: 4, memoryBytes: 2n ** 33n, diskBytes: 2n ** 34n, gpuCount: 0 } }));
    const n = await call(b.net, b.net.createNetwork, CreateNetworkRequest.fromPartial({ name: 'b-net', type: NetworkType.NETWORK_TYPE_VXLAN }));
    bNet = n.network!.id;
    const s = await call(b.net, b.net.createSubnet, CreateSubnetRequest.fromPartial({ networkId: bNet, cidr: '10.77.0.0/24', enableDhcp: true }));
    bPort = (await call(b.net, b.net.createPort, CreatePortRequest.fromPartial({ networkId: bNet, subnetId: s.subnet!.id, name: 'b-port' }))).port!.id;
    bVolume = (await call(b.storage, b.storage.createVolume, CreateVolumeRequest.fromPartial({ name: 'b-vol', sizeBytes: 2n ** 30n }))).id;
    bInstance = (await call(b.compute, b.compute.createInstance, createRequest('b-vm', InstanceType.INSTANCE_TYPE_VM, { kernel: 'http://127.0.0.1:9/vmlinuz' }))).id;
  });
  after(() => lab.stop());

  const everything = async () => ({
    networks: (await call(admin.net, admin.net.listNetworks, ListNetworksRequest.fromPartial({ pageSize: 100 }))).networks.map((n) => `${n.name}@${n.tenantId}`).sort(),
    instances: (await call(admin.compute, admin.compute.listInstances, LIST_INSTANCES)).instances.map((i) => i.name).sort(),
    port: (await call(admin.net, admin.net.getPort, { portId: bPort })).port?.name,
    volumes: (await call(admin.storage, admin.storage.listVolumes, ListVolumesRequest.fromPartial({ pageSize: 100 }))).volumes.map((v) => `${v.name}@${v.tenantId}:${v.sizeBytes}:${v.instanceId}`).sort(),
  });

  it("creates get the caller's tenant; naming another tenant is PERMISSION_DENIED and writes nothing", async () => {
    const mine = await call(a.net, a.net.createNetwork, CreateNetworkRequest.fromPartial({ name: 'a-net', type: NetworkType.NETWORK_TYPE_VXLAN }));
    assert.equal(mine.network!.tenantId, 'acme');
    const before = await everything();
    await rejectsWith(
      call(a.net, a.net.createNetwork, CreateNetworkRequest.fromPartial({ name: 'sneaky', type: NetworkType.NETWORK_TYPE_VXLAN, tenantId: 'globex' })),
      status.PERMISSION_DENIED,
      /tenant_id "globex" is not the caller's tenant \(acme\)/,
    );
    assert.deepEqual(await everything(), before);
  });

  it("instances record the tenant in an annotation only the server sets", async () => {
    const i = await call(a.compute, a.compute.createInstance, createRequest('a-vm', InstanceType.INSTANCE_TYPE_VM, { kernel: 'http://127.0.0.1:9/vmlinuz' }));
    assert.equal(i.metadata?.annotations['hypervisor.tenant'], 'acme');
    const before = await everything();
    const forged = createRequest('forged', InstanceType.INSTANCE_TYPE_VM, { kernel: 'http://127.0.0.1:9/vmlinuz' }, { metadata: { labels: {}, annotations: { 'hypervisor.tenant': 'globex' } } });
    await rejectsWith(call(a.compute, a.compute.createInstance, forged), status.INVALID_ARGUMENT, /hypervisor\.tenant.*set by the server only/);
    await rejectsWith(call(admin.compute, admin.compute.createInstance, forged), status.INVALID_ARGUMENT, /set by the server only/);
    assert.deepEqual(await everything(), before);
  });

  it("lists show only the tenant's own networks and instances", async () => {
    const nets = (await call(a.net, a.net.listNetworks, ListNetworksRequest.fromPartial({ pageSize: 100 }))).networks;
    assert.deepEqual(nets.map((n) => n.tenantId), nets.map(() => 'acme'));
    assert.ok(!nets.some((n) => n.id === bNet));
    const inst = (await call(a.compute, a.compute.listInstances, LIST_INSTANCES)).instances;
    assert.deepEqual(inst.map((i) => i.name), ['a-vm']);
    await rejectsWith(call(a.net, a.net.listNetworks, ListNetworksRequest.fromPartial({ tenantId: 'globex' })), status.PERMISSION_DENIED);
  });

  it("getting, changing and deleting another tenant's network, port and instance is NOT_FOUND, and writes nothing", async () => {
    const before = await everything();
    await rejectsWith(call(a.net, a.net.getNetwork, { networkId: bNet }), status.NOT_FOUND, new RegExp(`network ${bNet} not found`));
    await rejectsWith(call(a.net, a.net.deleteNetwork, { networkId: bNet }), status.NOT_FOUND);
    await rejectsWith(call(a.net, a.net.createSubnet, CreateSubnetRequest.fromPartial({ networkId: bNet, cidr: '10.78.0.0/24' })), status.NOT_FOUND);
    await rejectsWith(call(a.net, a.net.getPort, { portId: bPort }), status.NOT_FOUND, new RegExp(`port ${bPort} not found`));
    await rejectsWith(call(a.net, a.net.deletePort, { portId: bPort }), status.NOT_FOUND);
    await rejectsWith(call(a.compute, a.compute.getInstance, { instanceId: bInstance }), status.NOT_FOUND, new RegExp(`instance ${bInstance} not found`));
    await rejectsWith(call(a.compute, a.compute.stopInstance, { instanceId: bInstance, force: false, timeoutSeconds: 0 }), status.NOT_FOUND);
    await rejectsWith(call(a.compute, a.compute.deleteInstance, { instanceId: bInstance, force: true }), status.NOT_FOUND);
    assert.deepEqual(await everything(), before);
  });

  it("creating an instance on another tenant's network is NOT_FOUND, and writes nothing", async () => {
    const before = await everything();
    const onB = createRequest('on-b', InstanceType.INSTANCE_TYPE_VM, { kernel: 'http://127.0.0.1:9/vmlinuz', network: { networkId: bNet, subnetId: '', securityGroups: [], assignPublicIp: false } });
    await rejectsWith(call(a.compute, a.compute.createInstance, onB), status.NOT_FOUND, new RegExp(`network ${bNet} not found`));
    assert.deepEqual(await everything(), before);
  });

  it("volumes: creates get the tenant, lists show its own, another tenant's volume is NOT_FOUND to get, change, attach or delete, and nothing is written", async () => {
    const mine = await call(a.storage, a.storage.createVolume, CreateVolumeRequest.fromPartial({ name: 'a-vol', sizeBytes: 2n ** 30n }));
    assert.equal(mine.tenantId, 'acme');
    const listed = (await call(a.storage, a.storage.listVolumes, ListVolumesRequest.fromPartial({ pageSize: 100 }))).volumes;
    assert.deepEqual(listed.map((v) => `${v.name}@${v.tenantId}`), ['a-vol@acme']);
    const before = await everything();
    await rejectsWith(call(a.storage, a.storage.createVolume, CreateVolumeRequest.fromPartial({ name: 'sneaky-vol', sizeBytes: 2n ** 30n, tenantId: 'globex' })), status.PERMISSION_DENIED, /tenant_id "globex" is not the caller's tenant/);
    await rejectsWith(call(a.storage, a.storage.getVolume, { volumeId: bVolume }), status.NOT_FOUND, new RegExp(`volume ${bVolume} not found`));
    await rejectsWith(call(a.storage, a.storage.resizeVolume, { volumeId: bVolume, newSizeBytes: 2n ** 31n }), status.NOT_FOUND);
    await rejectsWith(call(a.storage, a.storage.attachVolume, { volumeId: bVolume, instanceId: '', devicePath: '' }), status.NOT_FOUND);
    await rejectsWith(call(a.storage, a.storage.deleteVolume, { volumeId: bVolume, force: true }), status.NOT_FOUND);
    await rejectsWith(call(a.storage, a.storage.createVolume, CreateVolumeRequest.fromPartial({ name: 'clone', sourceVolumeId: bVolume })), status.NOT_FOUND);
    await rejectsWith(call(a.storage, a.storage.createSnapshot, { name: 'snap', description: '', volumeId: bVolume, tenantId: '', metadata: undefined }), status.NOT_FOUND);
    assert.deepEqual(await everything(), before);
  });

  it('nodes are for users without a tenant', async () => {
    await rejectsWith(call(a.cluster, a.cluster.listNodes, { role: 0, status: 0, region: '', zone: '', labelSelector: {}, pageSize: 10, pageToken: '' }), status.PERMISSION_DENIED, /nodes and VTEPs are for users without a tenant/);
  });
});
