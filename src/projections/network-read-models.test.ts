import assert from 'node:assert/strict';
import { macAddressDecider } from '../commands/mac_address';
import { networkDecider } from '../commands/network';
import { NETWORK_POOL_ID, networkPoolDecider } from '../commands/network_pool';
import { portDecider } from '../commands/port';
import { securityGroupDecider } from '../commands/security_group';
import { subnetDecider } from '../commands/subnet';
import type { RecordedEvent } from '../eventstore/event';
import { DecidedLog } from './decided-log';
import { NetworkReservations } from '../processes/network/reservations';
import { NetworkReadModels } from './network-read-models';
import { type Snapshottable, withLaterMade } from './snapshot';
import { decodeSnapshot, encodeSnapshot } from './snapshot-codec';

const everything = () => {
  const m = new NetworkReadModels();
  return { models: [...m.all, new NetworkReservations()] as unknown as (Snapshottable & { applyCommit(c: readonly RecordedEvent[]): void })[], m };
};

describe('networking read models: snapshot and restore', () => {
  it('a restored snapshot fed the tail of the log equals the models fed the whole log (SortedMaps and all)', async () => {
    const log = new DecidedLog();
    log.send(networkPoolDecider, NETWORK_POOL_ID, { type: 'ReserveSegment', data: { networkId: 'n1', kind: 'vxlan', segmentId: 0 } });
    log.send(networkDecider, 'n1', {
      type: 'CreateNetwork',
      data: { name: 'n', kind: 'vxlan', vni: 1, vlanId: 0, mtu: 0, shared: false, external: false, tenantId: '', labels: {}, annotations: {} },
    });
    log.send(networkDecider, 'n1', { type: 'AddSubnet', data: { subnetId: 's1', cidr: '10.0.0.0/24' } });
    log.send(subnetDecider, 's1', { type: 'CreateSubnet', data: { networkId: 'n1', name: '', cidr: '10.0.0.0/24', gatewayIp: '', dnsServers: [], allocationPools: [], enableDhcp: true } });
    log.send(securityGroupDecider, 'g1', { type: 'CreateSecurityGroup', data: { name: 'g', description: '', tenantId: '', defaultRuleIds: ['r4', 'r6'] } });
    for (let i = 0; i < 40; i++) {
      const p = `p${i}`;
      const mac = `02:00:00:00:00:${i.toString(16).padStart(2, '0')}`;
      log.send(networkDecider, 'n1', { type: 'AddPort', data: { portId: p } });
      log.send(macAddressDecider, mac.replace(/:/g, '-'), { type: 'ReserveMac', data: { mac, portId: p } });
      log.send(subnetDecider, 's1', {
        type: 'AllocateIp',
        data: { allocationId: p, ipAddress: '', macAddress: mac, instanceId: '', portId: p, hostname: '', owner: { kind: 'port', id: p }, networkId: 'n1' },
      });
      log.send(securityGroupDecider, 'g1', { type: 'AttachPort', data: { portId: p } });
      log.send(portDecider, p, {
        type: 'CreatePort',
        data: { networkId: 'n1', subnetId: 's1', name: '', macAddress: mac, ipAddress: `10.0.0.${i + 2}`, securityGroups: ['g1'], bindingType: 'unspecified', deviceOwner: '', deviceId: '' },
      });
    }
    const whole = everything();
    log.feed(...whole.models);

    const cut = Math.floor(log.commits.length / 2);
    const head = everything();
    for (const c of log.commits.slice(0, cut)) for (const m of head.models) m.applyCommit(c);
    const encoded = async (m: Snapshottable) => encodeSnapshot(await withLaterMade(m.snapshot()));
    const saved = await Promise.all(head.models.map(encoded));
    // What snapshot() gives stays as it is while commits go on (a snapshot is encoded afterwards, a slice at a time; its Later parts made then too).
    const given = head.models.map((m) => m.snapshot());
    for (const c of log.commits.slice(cut)) for (const m of head.models) m.applyCommit(c);
    for (const [i, g] of given.entries()) assert.equal(encodeSnapshot(await withLaterMade(g)), saved[i], `${head.models[i].name}: what its snapshot() gave was changed by later commits`);

    const restored = everything();
    restored.models.forEach((m, i) => m.restore(decodeSnapshot(saved[i]), cut));
    // The runtime feeds the whole log after a partial restore: what the snapshot holds is skipped.
    log.feed(...restored.models);

    for (const [i, m] of restored.models.entries()) assert.equal(await encoded(m), await encoded(whole.models[i]), m.name);
    assert.deepEqual(restored.m.ports.list(), whole.m.ports.list());
    assert.deepEqual(restored.m.subnets.list(), whole.m.subnets.list());
    assert.equal(restored.m.subnets.state('s1')!.allocations.size, 40);
    assert.equal(restored.m.networks.state('n1')!.ports.size, 40);
  });
  it('reservations restored deferred parse their section once, when first read or fed a commit, and equal the whole log', () => {
    const log = new DecidedLog();
    log.send(networkPoolDecider, NETWORK_POOL_ID, { type: 'ReserveSegment', data: { networkId: 'n1', kind: 'vxlan', segmentId: 0 } });
    for (let i = 0; i < 10; i++) {
      const mac = `02:00:00:00:00:${i.toString(16).padStart(2, '0')}`;
      log.send(macAddressDecider, mac.replace(/:/g, '-'), { type: 'ReserveMac', data: { mac, portId: `p${i}` } });
    }
    const whole = new NetworkReservations();
    log.feed(whole);
    const cut = 6;
    const head = new NetworkReservations();
    for (const c of log.commits.slice(0, cut)) head.applyCommit(c);
    const saved = encodeSnapshot(head.snapshot());

    let loads = 0;
    const load = () => {
      loads++;
      return decodeSnapshot(saved);
    };
    const read = new NetworkReservations();
    read.restoreDeferred(load, cut);
    assert.equal(loads, 0, 'nothing parsed at restore');
    assert.equal(read.position, cut);
    assert.deepEqual(read.holds.segments.get('n1'), head.holds.segments.get('n1'));
    assert.equal(read.count(), head.count());
    assert.equal(loads, 1);

    const fed = new NetworkReservations();
    fed.restoreDeferred(load, cut);
    log.feed(fed);
    assert.equal(loads, 2);
    assert.equal(encodeSnapshot(fed.snapshot()), encodeSnapshot(whole.snapshot()));
    assert.equal(loads, 2, 'parsed once');
  });
});
