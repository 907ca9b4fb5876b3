import assert from 'node:assert/strict';
import { AlreadyExists, FailedPrecondition, InvalidArgument, NotFound } from '../../errors';
import { PortBindingType } from '../../gen/hypervisor/v1/network';
import { fold } from '../decider';
import { deciderSpec } from '../testing';
import type { PortSpec } from './commands';
import type { PortEvent } from './events';
import { portDecider } from './index';
import { portToProto } from '../../wire/views/port';

const spec = (over: Partial<PortSpec> = {}): PortSpec => ({
  networkId: 'net-1',
  subnetId: 's-1',
  name: 'eth0',
  macAddress: '02:00:00:00:00:01',
  ipAddress: '10.0.0.5',
  securityGroups: ['sg-1'],
  bindingType: 'linux_bridge',
  deviceOwner: '',
  deviceId: '',
  ...over,
});
const created = (over: Partial<PortSpec> = {}): PortEvent => ({
  type: 'PortCreated',
  data: { ...spec(over), securityGroups: [...spec(over).securityGroups], adminState: true },
});
const routerPort = created({ deviceOwner: 'router_interface', deviceId: 'r-1', ipAddress: '10.0.0.1', securityGroups: [] });
const bound = (instanceId = 'i-1', nodeId = 'node-1', deviceName = 'tap0'): PortEvent => ({ type: 'PortBound', data: { instanceId, nodeId, deviceName } });
const bind = (instanceId = 'i-1', nodeId = 'node-1', deviceName = 'tap0') => ({ type: 'BindPort', data: { instanceId, nodeId, deviceName } }) as const;
const fipAttached: PortEvent = { type: 'FloatingIpAttached', data: { floatingIpId: 'f-1', fixedIp: '10.0.0.5' } };
const given = deciderSpec(portDecider, 'p-1');

describe('port decider', () => {
  describe('CreatePort', () => {
    it('creates a port with its reserved MAC and allocated address', () => given([]).when({ type: 'CreatePort', data: spec() }).then([created()]));
    it('creates a port with no subnet and no address', () =>
      given([]).when({ type: 'CreatePort', data: spec({ subnetId: '', ipAddress: '' }) }).then([created({ subnetId: '', ipAddress: '' })]));
    it('canonicalises MAC and address', () =>
      given([]).when({ type: 'CreatePort', data: spec({ macAddress: '02-00-00-00-00-0A', subnetId: 's-6', ipAddress: 'FD00::5' }) })
        .then([created({ macAddress: '02:00:00:00:00:0a', subnetId: 's-6', ipAddress: 'fd00::5' })]));
    it('adds nothing when redelivered; ALREADY_EXISTS for another port on the id', () => {
      given([created()]).when({ type: 'CreatePort', data: spec() }).then([]);
      given([created()]).when({ type: 'CreatePort', data: spec({ name: 'eth1' }) }).thenThrows(AlreadyExists);
    });
    for (const [what, over, message] of [
      ['a universally administered MAC', { macAddress: '00:16:3e:00:00:01' }, /mac_address: 00:16:3e:00:00:01 is not locally administered/],
      ['a missing MAC', { macAddress: '' }, /mac_address: is required/],
      ['a subnet port without its address', { ipAddress: '' }, /ip_address: allocate the port its address/],
      ['an address without a subnet', { subnetId: '' }, /ip_address: needs subnet_id/],
      ['a security group listed twice', { securityGroups: ['sg-1', 'sg-1'] }, /security_groups\[1\]: sg-1 is listed twice/],
      ['a bad security group id', { securityGroups: ['sg 1'] }, /security_groups\[0\]: "sg 1" is not a valid id/],
      ['an unknown binding type', { bindingType: 'carrier-pigeon' as never }, /binding_type: "carrier-pigeon"/],
      ['a router port without its router', { deviceOwner: 'router_interface', deviceId: '' }, /device_id: is required/],
      ['a missing network', { networkId: '' }, /network_id: is required/],
    ] as const)
      it(`refuses ${what}: INVALID_ARGUMENT`, () =>
        given([]).when({ type: 'CreatePort', data: spec(over as Partial<PortSpec>) }).thenThrows(InvalidArgument, message));
  });

  describe('binding', () => {
    it('binds to one instance; the same binding again adds nothing', () => {
      given([created()]).when(bind()).then([bound()]);
      given([created(), bound()]).when(bind()).then([]);
    });
    it('is FAILED_PRECONDITION when bound to another instance', () =>
      given([created(), bound('i-1')]).when(bind('i-2')).thenThrows(FailedPrecondition, /port p-1 is already bound to instance i-1/));
    it('moves the binding when the same instance is on another node', () =>
      given([created(), bound('i-1', 'node-1')]).when(bind('i-1', 'node-2')).then([bound('i-1', 'node-2')]));
    it('never binds a router interface port', () =>
      given([routerPort]).when(bind()).thenThrows(FailedPrecondition, /router r-1's interface/));
    it('unbinds, once, and only the instance asked for', () => {
      given([created(), bound()]).when({ type: 'UnbindPort', data: { instanceId: '' } }).then([{ type: 'PortUnbound', data: { instanceId: 'i-1', nodeId: 'node-1' } }]);
      given([created(), bound()]).when({ type: 'UnbindPort', data: { instanceId: 'i-2' } }).then([]);
      given([created()]).when({ type: 'UnbindPort', data: { instanceId: '' } }).then([]);
    });
    it('can bind another instance after unbinding', () =>
      given([created(), bound('i-1'), { type: 'PortUnbound', data: { instanceId: 'i-1', nodeId: 'node-1' } }]).when(bind('i-2')).then([bound('i-2')]));
    it('refuses a binding without an instance or with a bad device name; NOT_FOUND without a port', () => {
      given([created()]).when(bind('')).thenThrows(InvalidArgument, /instance_id: is required/);
      given([created()]).when(bind('i-1', 'n', 'tap 0')).thenThrows(InvalidArgument, /device_name:/);
      given([]).when(bind()).thenThrows(NotFound, /port p-1 not found/);
    });
  });

  describe('floating IPs', () => {
    it('attaches one floating IP to the fixed address', () => {
      given([created()]).when({ type: 'AttachFloatingIp', data: { floatingIpId: 'f-1', fixedIp: '10.0.0.5' } }).then([fipAttached]);
      given([created()]).when({ type: 'AttachFloatingIp', data: { floatingIpId: 'f-1', fixedIp: '' } }).then([fipAttached]);
      given([created(), fipAttached]).when({ type: 'AttachFloatingIp', data: { floatingIpId: 'f-1', fixedIp: '10.0.0.5' } }).then([]);
    });
    it('is ALREADY_EXISTS for a second floating IP on the address', () =>
      given([created(), fipAttached]).when({ type: 'AttachFloatingIp', data: { floatingIpId: 'f-2', fixedIp: '10.0.0.5' } })
        .thenThrows(AlreadyExists, /port p-1 already has floating IP f-1/));
    it('is INVALID_ARGUMENT for an address the port does not have', () =>
      given([created()]).when({ type: 'AttachFloatingIp', data: { floatingIpId: 'f-1', fixedIp: '10.0.0.6' } })
        .thenThrows(InvalidArgument, /fixed_ip: 10.0.0.6 is not an address of port p-1 \(it has 10.0.0.5\)/));
    it('is FAILED_PRECONDITION for a port without a fixed IP or a router port', () => {
      given([created({ subnetId: '', ipAddress: '' })]).when({ type: 'AttachFloatingIp', data: { floatingIpId: 'f-1', fixedIp: '' } })
        .thenThrows(FailedPrecondition, /has no fixed IP/);
      given([routerPort]).when({ type: 'AttachFloatingIp', data: { floatingIpId: 'f-1', fixedIp: '' } }).thenThrows(FailedPrecondition, /router r-1's interface/);
    });
    it('detaches, once', () => {
      given([created(), fipAttached]).when({ type: 'DetachFloatingIp', data: { floatingIpId: 'f-1' } }).then([{ type: 'FloatingIpDetached', data: { floatingIpId: 'f-1' } }]);
      given([created()]).when({ type: 'DetachFloatingIp', data: { floatingIpId: 'f-1' } }).then([]);
    });
  });

  describe('DeletePort', () => {
    const deleted: PortEvent = {
      type: 'PortDeleted',
      data: { networkId: 'net-1', subnetId: 's-1', macAddress: '02:00:00:00:00:01', ipAddress: '10.0.0.5', securityGroups: ['sg-1'] },
    };
    it('deletes an unbound port and names what to release', () => given([created()]).when({ type: 'DeletePort', data: { asOwner: '' } }).then([deleted]));
    it('is FAILED_PRECONDITION while bound, or with a floating IP', () => {
      given([created(), bound()]).when({ type: 'DeletePort', data: { asOwner: '' } }).thenThrows(FailedPrecondition, /bound to instance i-1; unbind it first/);
      given([created(), fipAttached]).when({ type: 'DeletePort', data: { asOwner: '' } }).thenThrows(FailedPrecondition, /has floating IP\(s\) f-1/);
    });
    it('leaves a router interface port to its router', () => {
      given([routerPort]).when({ type: 'DeletePort', data: { asOwner: '' } }).thenThrows(FailedPrecondition, /remove the router interface instead/);
      given([routerPort]).when({ type: 'DeletePort', data: { asOwner: 'r-1' } }).thenMatches((es) => assert.equal(es[0].type, 'PortDeleted'));
    });
    it('is NOT_FOUND when never created; adds nothing the second time', () => {
      given([]).when({ type: 'DeletePort', data: { asOwner: '' } }).thenThrows(NotFound);
      given([created(), deleted]).when({ type: 'DeletePort', data: { asOwner: '' } }).then([]);
    });
  });

  it('maps to the Port message: DOWN until bound, BUILD when bound until its node reports', () => {
    const t0 = new Date('2026-01-01T00:00:00Z');
    const t1 = new Date('2026-01-01T00:00:05Z');
    const unbound = fold(portDecider, 'p-1', [{ ...created(), time: t0 }]);
    assert.deepEqual(portToProto(unbound), {
      id: 'p-1', name: 'eth0', networkId: 'net-1', subnetId: 's-1', macAddress: '02:00:00:00:00:01', ipAddress: '10.0.0.5', instanceId: '',
      nodeId: '', deviceName: '', securityGroups: ['sg-1'], adminState: true, status: 'DOWN', bindingType: PortBindingType.PORT_BINDING_LINUX_BRIDGE,
      createdAt: t0, updatedAt: t0,
    });
    const b = portToProto(fold(portDecider, 'p-1', [{ ...created(), time: t0 }, { ...bound(), time: t1 }]))!;
    assert.deepEqual([b.status, b.instanceId, b.nodeId, b.deviceName, b.updatedAt], ['BUILD', 'i-1', 'node-1', 'tap0', t1]);
  });

  describe('ReportPortStatus', () => {
    const report = (status: 'ACTIVE' | 'DOWN' | 'ERROR', nodeId = 'node-1', deviceName = 'hv-t1', reason = '') => ({ type: 'ReportPortStatus', data: { nodeId, status, deviceName, reason } }) as const;
    const reported = (status: 'ACTIVE' | 'DOWN' | 'ERROR', deviceName = 'hv-t1', reason = ''): PortEvent => ({ type: 'PortStatusReported', data: { nodeId: 'node-1', status, deviceName, reason } });
    it('records what the bound node reports', () => given([created(), bound()]).when(report('ACTIVE')).then([reported('ACTIVE')]));
    it('adds nothing for the same report again', () => given([created(), bound(), reported('ACTIVE')]).when(report('ACTIVE')).then([]));
    it('ignores a report from a node the port is not bound to (it moved), and one for an unbound port', () => {
      given([created(), bound()]).when(report('ACTIVE', 'node-2')).then([]);
      given([created()]).when(report('ACTIVE')).then([]);
    });
    it('keeps the reason of an ERROR only', () => {
      given([created(), bound()]).when(report('ERROR', 'node-1', 'hv-t1', 'ip link add failed')).then([reported('ERROR', 'hv-t1', 'ip link add failed')]);
      given([created(), bound()]).when(report('DOWN', 'node-1', 'hv-t1', 'ignored')).then([reported('DOWN')]);
    });
    it('refuses a status that is not ACTIVE, DOWN or ERROR', () =>
      given([created(), bound()]).when({ type: 'ReportPortStatus', data: { nodeId: 'node-1', status: 'UP' as 'ACTIVE', deviceName: '', reason: '' } }).thenThrows(InvalidArgument));
    it('shows the reported status and device; a new binding starts over at BUILD', () => {
      const v = (evts: PortEvent[]) => portToProto(fold(portDecider, 'p-1', evts.map((e) => ({ ...e, time: new Date(0) }))))!;
      assert.deepEqual([v([created(), bound(), reported('ACTIVE')]).status, v([created(), bound(), reported('ACTIVE')]).deviceName], ['ACTIVE', 'hv-t1']);
      assert.equal(v([created(), bound(), reported('DOWN')]).status, 'DOWN');
      assert.equal(v([created(), bound(), reported('ACTIVE'), bound('i-1', 'node-2')]).status, 'BUILD');
    });
  });

  describe("a node's DHCP port (device_owner network:dhcp, device_id the node)", () => {
    const dhcpPort = created({ name: 'dhcp:node-1', deviceOwner: 'network:dhcp', deviceId: 'node-1', securityGroups: [] });
    const report = (nodeId: string) => ({ type: 'ReportPortStatus', data: { nodeId, status: 'ACTIVE', deviceName: 'hv-d1', reason: '' } }) as const;
    const view = (evts: PortEvent[]) => portToProto(fold(portDecider, 'p-1', evts.map((e) => ({ ...e, time: new Date(0) }))))!;
    it("records its node's report, and no other node's", () => {
      given([dhcpPort]).when(report('node-1')).then([{ type: 'PortStatusReported', data: { nodeId: 'node-1', status: 'ACTIVE', deviceName: 'hv-d1', reason: '' } }]);
      given([dhcpPort]).when(report('node-2')).then([]);
    });
    it('shows its node, BUILD until the node reports, then what it reported', () => {
      assert.deepEqual([view([dhcpPort]).nodeId, view([dhcpPort]).status], ['node-1', 'BUILD']);
      const active = view([dhcpPort, { type: 'PortStatusReported', data: { nodeId: 'node-1', status: 'ACTIVE', deviceName: 'hv-d1', reason: '' } }]);
      assert.deepEqual([active.status, active.deviceName], ['ACTIVE', 'hv-d1']);
    });
    it('is deleted only by its owner, and never bound to an instance', () => {
      given([dhcpPort]).when({ type: 'DeletePort', data: { asOwner: '' } }).thenThrows(FailedPrecondition, /node node-1's DHCP server/);
      given([dhcpPort]).when({ type: 'DeletePort', data: { asOwner: 'node-1' } }).thenMatches((e) => assert.equal(e[0].type, 'PortDeleted'));
      given([dhcpPort]).when(bind()).thenThrows(FailedPrecondition, /node node-1's DHCP server and cannot be bound/);
    });
  });
});
