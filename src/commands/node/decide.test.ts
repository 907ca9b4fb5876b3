import assert from 'node:assert/strict';
import { FailedPrecondition, InvalidArgument, NotFound, ResourceExhausted } from '../../errors';
import { deciderSpec } from '../testing';
import type { NodeCommand, NodeDetails } from './commands';
import type { NodeEvent } from './events';
import { nodeIdFor } from './identity';
import { nodeDecider } from './index';

const details = (over: Partial<NodeDetails> = {}): NodeDetails => ({
  hostname: 'host-a',
  ip: '10.0.0.1',
  port: 50052,
  role: 'WORKER',
  region: 'eu-1',
  zone: 'eu-1a',
  capacity: { cpuCores: 8, memoryBytes: 16 * 2 ** 30, diskBytes: 100 * 2 ** 30, gpuCount: 0 },
  labels: { rack: 'r1' },
  annotations: {},
  supportedInstanceTypes: ['vm', 'microvm'],
  ...over,
});
const registered = (d = details()): NodeEvent => ({ type: 'NodeRegistered', data: d });
const small = { cpuCores: 2, memoryBytes: 2 ** 30, diskBytes: 0, gpuCount: 0 };
const given = deciderSpec(nodeDecider, 'node-1');

describe('node decider', () => {
  describe('ReportNodeConditions', () => {
    const accel = (status: string, reason: string) => ({ type: 'Accelerator', status, reason, message: 'm' });
    const disk = { type: 'DiskPressure', status: 'False', reason: 'r', message: 'm' };
    it('sets the reported types and keeps the others', () =>
      given([registered(), { type: 'NodeConditionsUpdated', data: { conditions: [disk] } }])
        .when({ type: 'ReportNodeConditions', data: { conditions: [accel('tcg', 'kvm-failed: KVM internal error')] } })
        .then([{ type: 'NodeConditionsUpdated', data: { conditions: [disk, accel('tcg', 'kvm-failed: KVM internal error')] } }]));
    it('adds nothing when every heartbeat says the same', () =>
      given([registered(), { type: 'NodeConditionsUpdated', data: { conditions: [disk, accel('kvm', 'kvm-ok: booted')] } }])
        .when({ type: 'ReportNodeConditions', data: { conditions: [accel('kvm', 'kvm-ok: booted')] } })
        .then([]));
    it('is NOT_FOUND for a node that never registered', () =>
      given([]).when({ type: 'ReportNodeConditions', data: { conditions: [accel('tcg', 'x')] } }).thenThrows(NotFound));
  });

  describe('RegisterNode', () => {
    it('registers a new node', () =>
      given([]).when({ type: 'RegisterNode', data: details() }).then([registered()]));

    it('adds nothing when the same host registers again unchanged', () =>
      given([registered()]).when({ type: 'RegisterNode', data: details() }).then([]));

    it('refreshes details when the same host registers with new ones', () =>
      given([registered()])
        .when({ type: 'RegisterNode', data: details({ ip: '10.0.0.2' }) })
        .then([{ type: 'NodeReregistered', data: details({ ip: '10.0.0.2' }) }]));

    it('brings a NOT_READY node back to READY when it registers again', () =>
      given([registered(), { type: 'NodeStatusChanged', data: { from: 'READY', to: 'NOT_READY', reason: 'lease expired' } }])
        .when({ type: 'RegisterNode', data: details() })
        .then([{ type: 'NodeStatusChanged', data: { from: 'NOT_READY', to: 'READY', reason: 'node registered again' } }]));

    it('keeps an operator-set MAINTENANCE when the node registers again', () =>
      given([registered(), { type: 'NodeStatusChanged', data: { from: 'READY', to: 'MAINTENANCE', reason: 'set by operator' } }])
        .when({ type: 'RegisterNode', data: details() })
        .then([]));

    for (const [field, bad, message] of [
      ['hostname', { hostname: '' }, /hostname: is required/],
      ['hostname', { hostname: 'bad host!' }, /hostname: .* not a valid host name/],
      ['ip', { ip: '300.1.1.1' }, /ip: .* not an IPv4 or IPv6/],
      ['port', { port: 70000 }, /port: 70000 is not a port/],
      ['port', { port: 0 }, /port: 0 is not a port/],
      ['capacity', { capacity: { cpuCores: -1, memoryBytes: 0, diskBytes: 0, gpuCount: 0 } }, /capacity.cpu_cores: -1 is negative/],
      ['supported_instance_types', { supportedInstanceTypes: ['vm', 'teapot'] }, /supported_instance_types\[1\]: "teapot"/],
      ['supported_instance_types', { supportedInstanceTypes: [] }, /supported_instance_types: name at least one/],
      ['labels', { labels: { 'bad key!': 'x' } }, /metadata.labels: key "bad key!"/],
    ] as const)
      it(`rejects a bad ${field} naming the field`, () =>
        given([]).when({ type: 'RegisterNode', data: details(bad as Partial<NodeDetails>) }).thenThrows(InvalidArgument, message));
  });

  describe('DeregisterNode', () => {
    it('deregisters a node that hosts nothing', () =>
      given([registered()]).when({ type: 'DeregisterNode', data: {} }).then([{ type: 'NodeDeregistered', data: {} }]));
    it('is NOT_FOUND for a node never registered', () =>
      given([]).when({ type: 'DeregisterNode', data: {} }).thenThrows(NotFound));
    it('is NOT_FOUND for a node already deregistered', () =>
      given([registered(), { type: 'NodeDeregistered', data: {} }]).when({ type: 'DeregisterNode', data: {} }).thenThrows(NotFound));
    it('is FAILED_PRECONDITION while the node still hosts instances', () =>
      given([registered(), { type: 'CapacityReserved', data: { instanceId: 'i-1', resources: small } }])
        .when({ type: 'DeregisterNode', data: {} })
        .thenThrows(FailedPrecondition, /still hosts 1 instance/));
  });

  describe('UpdateNodeStatus', () => {
    it('changes status and issues the matching agent command', () =>
      given([registered()])
        .when({ type: 'UpdateNodeStatus', data: { status: 'DRAINING', commandId: 'c-1' } })
        .then([
          { type: 'NodeStatusChanged', data: { from: 'READY', to: 'DRAINING', reason: 'set by operator' } },
          { type: 'NodeCommandIssued', data: { id: 'c-1', command: 'drain', parameters: { status: 'DRAINING' } } },
        ]));
    it('adds nothing when status and conditions are unchanged', () =>
      given([registered()]).when({ type: 'UpdateNodeStatus', data: { status: 'READY', conditions: [], commandId: 'c' } }).then([]));
    it('records new conditions', () =>
      given([registered()])
        .when({
          type: 'UpdateNodeStatus',
          data: { status: 'READY', conditions: [{ type: 'DiskPressure', status: 'True', reason: 'r', message: 'm' }], commandId: 'c' },
        })
        .then([{ type: 'NodeConditionsUpdated', data: { conditions: [{ type: 'DiskPressure', status: 'True', reason: 'r', message: 'm' }] } }]));
    it('is NOT_FOUND for an unknown node', () =>
      given([]).when({ type: 'UpdateNodeStatus', data: { status: 'READY', commandId: 'c' } }).thenThrows(NotFound));
  });

  describe('liveness', () => {
    it('marks a READY node NOT_READY when its lease expires', () =>
      given([registered()])
        .when({ type: 'MarkNodeNotReady', data: { reason: 'no heartbeat for 30s' } })
        .then([{ type: 'NodeStatusChanged', data: { from: 'READY', to: 'NOT_READY', reason: 'no heartbeat for 30s' } }]));
    it('does not touch a node in MAINTENANCE', () =>
      given([registered(), { type: 'NodeStatusChanged', data: { from: 'READY', to: 'MAINTENANCE', reason: 'op' } }])
        .when({ type: 'MarkNodeNotReady', data: { reason: 'x' } })
        .then([]));
    it('marks a NOT_READY node READY on a heartbeat, once', () => {
      const notReady: NodeEvent = { type: 'NodeStatusChanged', data: { from: 'READY', to: 'NOT_READY', reason: 'x' } };
      given([registered(), notReady])
        .when({ type: 'MarkNodeReady', data: {} })
        .then([{ type: 'NodeStatusChanged', data: { from: 'NOT_READY', to: 'READY', reason: 'heartbeat received' } }]);
      given([registered()]).when({ type: 'MarkNodeReady', data: {} }).then([]);
    });
  });

  describe('capacity', () => {
    const reserve = (instanceId: string, resources = small) =>
      ({ type: 'ReserveCapacity', data: { instanceId, resources, kind: 'vm' } }) as const;
    it('reserves what fits', () =>
      given([registered()]).when(reserve('i-1')).then([{ type: 'CapacityReserved', data: { instanceId: 'i-1', resources: small } }]));
    it('is idempotent per instance', () =>
      given([registered(), { type: 'CapacityReserved', data: { instanceId: 'i-1', resources: small } }]).when(reserve('i-1')).then([]));
    it('is NOT_FOUND on a node never registered', () => given([]).when(reserve('i-1')).thenThrows(NotFound));
    it('refuses when the last CPU is taken', () =>
      given([registered(), ...[1, 2, 3, 4].map((i): NodeEvent => ({ type: 'CapacityReserved', data: { instanceId: `i-${i}`, resources: small } }))])
        .when(reserve('i-5'))
        .thenThrows(ResourceExhausted, /not enough free cpuCores/));
    it('refuses a kind the node does not run', () =>
      given([registered()])
        .when({ type: 'ReserveCapacity', data: { instanceId: 'i', resources: small, kind: 'container' } })
        .thenThrows(FailedPrecondition, /does not run container/));
    it('refuses a node that is not READY', () =>
      given([registered(), { type: 'NodeStatusChanged', data: { from: 'READY', to: 'DRAINING', reason: 'op' } }])
        .when(reserve('i'))
        .thenThrows(FailedPrecondition, /DRAINING/));
    it('releases what was held, once', () => {
      const held: NodeEvent = { type: 'CapacityReserved', data: { instanceId: 'i-1', resources: small } };
      given([registered(), held]).when({ type: 'ReleaseCapacity', data: { instanceId: 'i-1' } })
        .then([{ type: 'CapacityReleased', data: { instanceId: 'i-1', resources: small } }]);
      given([registered(), held, { type: 'CapacityReleased', data: { instanceId: 'i-1', resources: small } }])
        .when({ type: 'ReleaseCapacity', data: { instanceId: 'i-1' } })
        .then([]);
    });
  });

  describe('storage (volumes and snapshots)', () => {
    const GiB = 2 ** 30;
    const reserve = (key: string, bytes: number): NodeCommand => ({ type: 'ReserveStorage', data: { key, bytes } });
    const held: NodeEvent = { type: 'StorageReserved', data: { key: 'v-1', bytes: 60 * GiB } };
    it('holds bytes of the pool, counted with instances\' disks; a repeat adds nothing; a resize grows the hold', () => {
      given([registered()]).when(reserve('v-1', 60 * GiB)).then([held]);
      given([registered(), held]).when(reserve('v-1', 60 * GiB)).then([]);
      given([registered(), held]).when(reserve('v-1', 80 * GiB)).then([{ type: 'StorageReserved', data: { key: 'v-1', bytes: 80 * GiB } }]);
    });
    it('is RESOURCE_EXHAUSTED when the pool has no room, counting what instances hold', () => {
      given([registered(), held]).when(reserve('v-2', 41 * GiB)).thenThrows(ResourceExhausted, /storage free/);
      given([registered(), { type: 'CapacityReserved', data: { instanceId: 'i-1', resources: { ...small, diskBytes: 50 * GiB } } }])
        .when(reserve('v-2', 51 * GiB)).thenThrows(ResourceExhausted, /53687091200 bytes of storage free/);
    });
    it('releases once; a node holding volumes is not deregistered', () => {
      given([registered(), held]).when({ type: 'ReleaseStorage', data: { key: 'v-1' } }).then([{ type: 'StorageReleased', data: { key: 'v-1', bytes: 60 * GiB } }]);
      given([registered()]).when({ type: 'ReleaseStorage', data: { key: 'v-1' } }).then([]);
      given([registered(), held]).when({ type: 'DeregisterNode', data: {} }).thenThrows(FailedPrecondition, /holds 1 volume\(s\) or snapshot\(s\)/);
    });
  });

  it('derives one stable, valid UUID per host name', () => {
    assert.equal(nodeIdFor('Host-A'), nodeIdFor('host-a'));
    assert.notEqual(nodeIdFor('host-a'), nodeIdFor('host-b'));
    assert.match(nodeIdFor('host-a'), /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
