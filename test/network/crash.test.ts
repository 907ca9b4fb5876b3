import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { credentials } from '@grpc/grpc-js';
import { JetStreamEventStore } from '../../src/eventstore/jetstream/jetstream-event-store';
import { NetworkServiceClient } from '../../src/gen/hypervisor/v1/network';
import { NetworkReservations } from '../../src/processes/network/reservations';
import { NetworkReadModels } from '../../src/projections/network-read-models';
import { ProjectionRuntime } from '../../src/projections/projection-runtime';
import { ServerOnNats } from '../support/server-process';
import { until } from '../support/control-plane';
import { Net } from './support';

/**
 * kill -9 the server in the middle of a burst of CreatePort: whatever the
 * dead server had half-done is given back by the restarted one's reconciler
 * (grace 1 s), every port that exists holds exactly its MAC, address,
 * network and group references, no address or MAC is given out twice, and a
 * retry of each request (same x-request-id) never makes a second port.
 */
describe('crash: kill -9 the server during a burst of CreatePort', function () {
  this.timeout(120_000);
  const rig = ServerOnNats.forSuite({ HV_NETWORK_GC_GRACE_SECONDS: '1', HV_NETWORK_GC_SWEEP_SECONDS: '0.5' });
  const clients: NetworkServiceClient[] = [];
  /** NetworkService of the server running now. */
  const service = () =>
    new Net({
      client: <C>(Ctor: new (a: string, c: ReturnType<typeof credentials.createInsecure>) => C) => {
        const c = new Ctor(rig.server.address, credentials.createInsecure());
        clients.push(c as unknown as NetworkServiceClient);
        return c;
      },
    } as never);
  after(() => {
    for (const c of clients) c.close();
  });

  it('leaves no reservation without its port and no port twice; retries find their port', async () => {
    let n = service();
    const net = await n.network();
    const subnet = await n.subnet(net.id, '10.90.0.0/24');
    const group = await n.group();

    // Eight writers create ports until the server is killed under them.
    const requests: string[] = [];
    let dead = false;
    const writer = async () => {
      while (!dead && requests.length < 400) {
        const rid = randomUUID();
        requests.push(rid);
        await n.rpc('createPort', { networkId: net.id, subnetId: subnet.id, securityGroups: [group.id] }, rid).catch(() => undefined);
      }
    };
    const writers = Array.from({ length: 8 }, writer);
    await until('a few ports made', async () => ((await n.rpc('listPorts', { networkId: net.id })).ports.length >= 10 ? true : undefined), 30_000);
    await rig.server.kill9();
    dead = true;
    await Promise.all(writers);

    await rig.restart();
    n = service();
    // Read the log as the server does, to see MACs and every reference.
    const nc = await rig.nats.connect();
    const store = await JetStreamEventStore.open(nc);
    const models = new NetworkReadModels();
    const held = new NetworkReservations();
    const runtime = new ProjectionRuntime(store, [...models.all, held]);
    await runtime.start();
    try {
      const consistent = () => {
        const ports = new Set(models.ports.ids());
        const orphans = [
          ...[...held.holds.macs.keys()].filter((p) => !ports.has(p)),
          ...[...held.holds.portRefs.keys()].filter((p) => !ports.has(p)),
          ...[...held.holds.groupRefs.keys()].filter((p) => !ports.has(p)),
          ...[...models.subnets.state(subnet.id)!.allocations.values()].map((a) => a.portId).filter((p) => !ports.has(p)),
        ];
        return orphans.length === 0 ? ports : undefined;
      };
      const ports = await until('the dead server\'s half-done ports released', consistent, 30_000);
      for (const id of ports) {
        const p = models.ports.state(id)!;
        assert.equal(models.macs.state(p.macAddress.replace(/:/g, '-'))?.portId, id, `port ${id} holds its MAC`);
        assert.equal(held.holds.portRefs.get(id)?.networkId, net.id);
        assert.ok(held.holds.groupRefs.get(id)?.has(group.id));
      }
      const allocations = [...models.subnets.state(subnet.id)!.allocations.values()];
      assert.equal(allocations.length, ports.size, 'one address per port');
      assert.equal(new Set([...ports].map((id) => models.ports.state(id)!.macAddress)).size, ports.size, 'no MAC twice');
      assert.equal(models.networks.state(net.id)!.ports.size, ports.size);
      assert.equal(models.securityGroups.state(group.id)!.ports.size, ports.size);

      // Every request again, with its own request id: the ports that exist come back, the rest are made now, none twice.
      const again = await Promise.all(requests.map((rid) => n.rpc('createPort', { networkId: net.id, subnetId: subnet.id, securityGroups: [group.id] }, rid)));
      assert.equal(new Set(again.map((r) => r.port!.id)).size, requests.length);
      for (const r of again) if (ports.has(r.port!.id)) assert.deepEqual(r.port!.ipAddress, models.ports.state(r.port!.id)!.ipAddress);
      const listed = await n.rpc('listAllocations', { subnetId: subnet.id });
      assert.equal(listed.allocations.length, requests.length);
      assert.equal(new Set(listed.allocations.map((a) => a.ipAddress)).size, requests.length, 'no address twice');
    } finally {
      runtime.stop();
      await nc.close();
    }
  });
});
