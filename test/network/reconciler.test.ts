import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { NatsConnection } from 'nats';
import { CommandBus } from '../../src/bus/command-bus';
import type { Command } from '../../src/commands/command';
import { macAddressId } from '../../src/commands/mac_address';
import { NETWORK_POOL_ID } from '../../src/commands/network_pool';
import type { RecordedEvent } from '../../src/eventstore/event';
import { JetStreamEventStore } from '../../src/eventstore/jetstream/jetstream-event-store';
import { TestControlPlane, until } from '../support/control-plane';
import { Net } from './support';

/**
 * The network reconciler: follow-ups of deletes and leaks of creates that
 * died halfway. A half-done sequence is appended directly on the command bus
 * (as a server killed between two steps would leave it), and the test
 * watches it being given back, by whom and in reaction to what.
 */
describe('network reconciler: delete follow-ups and crash leaks (real nats-server)', function () {
  this.timeout(60_000);
  // Reservations without an owner go after 300 ms; every reservation is looked at every 200 ms.
  const t = new TestControlPlane({ networkGcGraceSeconds: 0.3, networkGcSweepSeconds: 0.2 });
  let n: Net;
  let nc: NatsConnection;
  let bus: CommandBus;
  let store: JetStreamEventStore;
  before(async () => {
    await t.start();
    n = new Net(t);
    nc = await t.nats.connect();
    bus = new CommandBus(nc);
    store = await JetStreamEventStore.open(nc);
  });
  after(() => t.stop());

  const models = () => t.cp.network!.models;
  const held = () => t.cp.network!.reservations;
  /** Sends one command as a crashed saga would have, before it died. */
  const send = (aggregateType: string, aggregateId: string, command: Command) =>
    bus.send({ commandId: randomUUID(), aggregateType, aggregateId, command, meta: { actor: 'crashed-saga', correlationId: 'corr-crash', causationId: 'req-crash' } });
  const lastEvent = async (aggregateType: string, aggregateId: string, type: string): Promise<RecordedEvent> => {
    const { events } = await store.readStream({ aggregateType, aggregateId });
    const e = events.filter((x) => x.type === type).pop();
    assert.ok(e, `no ${type} on ${aggregateType}-${aggregateId}`);
    return e;
  };

  it('releases what a CreatePort that died halfway held: network reference, MAC, address, group reference', async () => {
    const net = await n.network();
    const s = await n.subnet(net.id, '10.60.0.0/24');
    const g = await n.group();
    const ghost = randomUUID();
    const mac = '02:60:00:00:00:01';
    await send('network', net.id, { type: 'AddPort', data: { portId: ghost } });
    await send('mac_address', macAddressId(mac), { type: 'ReserveMac', data: { mac, portId: ghost } });
    await send('subnet', s.id, {
      type: 'AllocateIp',
      data: { allocationId: ghost, ipAddress: '', macAddress: mac, instanceId: '', portId: ghost, hostname: '', owner: { kind: 'port', id: ghost }, networkId: net.id },
    });
    await send('security_group', g.id, { type: 'AttachPort', data: { portId: ghost } });
    // ... and no CreatePort: the server died here.
    await until('the dead port\'s reservations released', () =>
      models().macs.state(macAddressId(mac))?.portId === '' &&
      !models().networks.state(net.id)!.ports.has(ghost) &&
      !models().securityGroups.state(g.id)!.ports.has(ghost) &&
      models().subnets.state(s.id)!.allocations.size === 0,
    );
    const released = await lastEvent('mac_address', macAddressId(mac), 'MacReleased');
    assert.equal(released.meta.actor, 'system:network-gc');
    assert.equal(released.meta.correlationId, 'corr-crash', 'the release follows the request that leaked it');
    // Everything is free: the subnet, group and network can go.
    await n.rpc('deleteSubnet', { subnetId: s.id });
    await n.rpc('deleteSecurityGroup', { securityGroupId: g.id });
    await n.rpc('deleteNetwork', { networkId: net.id });
  });

  it('releases a segment reserved for a network that was never created, and a subnet CIDR claimed for a subnet never created', async () => {
    const net = await n.network();
    const ghostNet = randomUUID();
    const ghostSubnet = randomUUID();
    await send('network_pool', NETWORK_POOL_ID, { type: 'ReserveSegment', data: { networkId: ghostNet, kind: 'vxlan', segmentId: 424242 } });
    await send('network', net.id, { type: 'AddSubnet', data: { subnetId: ghostSubnet, cidr: '10.61.0.0/24' } });
    await until('segment and CIDR released', () => !models().poolState().byNetwork.has(ghostNet) && !(ghostSubnet in models().networks.state(net.id)!.subnets));
    assert.equal((await lastEvent('network_pool', NETWORK_POOL_ID, 'SegmentReleased')).meta.actor, 'system:network-gc');
    // The VNI and the CIDR can be taken again.
    await n.network({ vni: 424242 });
    await n.subnet(net.id, '10.61.0.0/24');
  });

  it('releases a floating IP\'s address and a gateway address whose owners never came', async () => {
    const ext = await n.network({ external: true });
    const s = await n.subnet(ext.id, '198.51.100.0/24');
    const r = (await n.rpc('createRouter', { name: 'no-gateway-yet' })).router!;
    const alloc = (allocationId: string, owner: { kind: string; id: string }) =>
      send('subnet', s.id, { type: 'AllocateIp', data: { allocationId, ipAddress: '', macAddress: '', instanceId: '', portId: '', hostname: '', owner, networkId: ext.id } });
    const ghostFip = randomUUID();
    await alloc(ghostFip, { kind: 'floating_ip', id: ghostFip });
    await alloc(randomUUID(), { kind: 'router_gateway', id: r.id }); // SetExternalGateway never came
    await until('addresses released', () => models().subnets.state(s.id)!.allocations.size === 0);
    assert.equal(held().allocationsOf('floating_ip', ghostFip).length, 0);
  });

  it('leaves a live port\'s reservations alone, sweep after sweep', async () => {
    const net = await n.network();
    const s = await n.subnet(net.id, '10.62.0.0/24');
    const g = await n.group();
    const p = await n.port(net.id, { subnetId: s.id, securityGroups: [g.id] });
    const sweeps = t.cp.network!.reconciler.released;
    const swept = t.cp.network!.reconciler.sweeps;
    await until('six sweeps, four grace periods', () => t.cp.network!.reconciler.sweeps >= swept + 6);
    await t.cp.network!.reconciler.idle();
    assert.equal(models().macs.state(macAddressId(p.macAddress))?.portId, p.id);
    assert.equal(models().subnets.state(s.id)!.allocations.size, 1);
    assert.ok(models().networks.state(net.id)!.ports.has(p.id));
    assert.ok(models().securityGroups.state(g.id)!.ports.has(p.id));
    assert.equal(t.cp.network!.reconciler.released, sweeps, 'nothing released meanwhile');
  });

  it('does the follow-ups of a delete that bypassed the API at once, as system:network, caused by the PortDeleted event', async () => {
    const net = await n.network();
    const s = await n.subnet(net.id, '10.63.0.0/24');
    const p = await n.port(net.id, { subnetId: s.id });
    await send('port', p.id, { type: 'DeletePort', data: { asOwner: '' } });
    await until('port follow-ups done', () => models().macs.state(macAddressId(p.macAddress))?.portId === '' && models().subnets.state(s.id)!.allocations.size === 0 && models().networks.state(net.id)!.ports.size === 0);
    const deleted = await lastEvent('port', p.id, 'PortDeleted');
    const released = await lastEvent('subnet', s.id, 'IpReleased');
    assert.equal(released.meta.actor, 'system:network');
    assert.equal(released.meta.causationId, deleted.id);
    assert.equal(released.meta.correlationId, 'corr-crash');
  });

  it('a network deleted behind the API gives its segment back at once', async () => {
    const net = await n.network({ vni: 434343 });
    await send('network', net.id, { type: 'DeleteNetwork', data: {} });
    await until('segment released', () => !models().poolState().byNetwork.has(net.id));
    assert.equal((await lastEvent('network_pool', NETWORK_POOL_ID, 'SegmentReleased')).meta.actor, 'system:network');
  });
});
