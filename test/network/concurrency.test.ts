import assert from 'node:assert/strict';
import { credentials, type Client, type ServiceError, status } from '@grpc/grpc-js';
import pino from 'pino';
import { defaultConfig } from '../../src/server/config';
import { ControlPlane } from '../../src/server/control-plane';
import { parseAddress } from '../../src/domain/ipam/address';
import { TestControlPlane } from '../support/control-plane';
import { Net } from './support';

const codes = (rs: PromiseSettledResult<unknown>[]) =>
  rs.map((r) => (r.status === 'fulfilled' ? 'OK' : status[(r.reason as ServiceError).code] ?? String(r.reason))).sort();
/** What the refused calls said, for an assertion's message. */
const why = (rs: PromiseSettledResult<unknown>[]) =>
  rs.flatMap((r) => (r.status === 'rejected' ? [`${status[(r.reason as ServiceError).code]}: ${(r.reason as ServiceError).details}`] : [])).join('; ');

/**
 * Invariants under concurrent requests through the real system, with two
 * server processes on one NATS: commands for one aggregate land on either
 * (a queue group), so writes to one stream race between processes and meet
 * as append conflicts, which the handler decides again.
 */
describe('NetworkService under concurrency (two server processes, one nats-server)', function () {
  this.timeout(120_000);
  const t = new TestControlPlane();
  let second: ControlPlane;
  const clients: Client[] = [];
  let nets: Net[];
  before(async () => {
    await t.start();
    second = await new ControlPlane(
      { ...defaultConfig(), natsUrl: t.nats.url, dataDir: t.dataDir, grpcHost: '127.0.0.1', grpcPort: 0, httpPort: 0, logLevel: 'silent', feed: false, snapshots: false },
      pino({ level: 'silent' }),
    ).start();
    const other = {
      client: <C extends Client>(Ctor: new (a: string, c: ReturnType<typeof credentials.createInsecure>) => C): C => {
        const c = new Ctor(`127.0.0.1:${second.grpcPort}`, credentials.createInsecure());
        clients.push(c);
        return c;
      },
    };
    nets = [new Net(t), new Net(other)];
  });
  after(async () => {
    for (const c of clients) c.close();
    await second?.stop();
    await t.stop();
  });
  const via = (i: number) => nets[i % 2];

  it('200 concurrent AllocateIP on a /24 all succeed with 200 distinct addresses inside the pool', async () => {
    const net = await via(0).network();
    const s = await via(0).subnet(net.id, '10.50.0.0/24');
    const got = await Promise.all(Array.from({ length: 200 }, (_, i) => via(i).rpc('allocateIp', { subnetId: s.id, hostname: `h-${i}` })));
    const ips = got.map((r) => r.allocation!.ipAddress);
    assert.equal(new Set(ips).size, 200, 'every address given out once');
    const lo = parseAddress('x', '10.50.0.2').value;
    const hi = parseAddress('x', '10.50.0.254').value;
    for (const ip of ips) {
      const v = parseAddress('ip', ip).value;
      assert.ok(v >= lo && v <= hi, `${ip} is inside the pool`);
    }
    // Lowest free first, whichever process decided: exactly .2 to .201.
    assert.deepEqual(
      ips.map((ip) => Number(ip.split('.')[3])).sort((a, b) => a - b),
      Array.from({ length: 200 }, (_, i) => i + 2),
    );
    for (const n of nets) assert.equal((await n.rpc('listAllocations', { subnetId: s.id })).allocations.length, 200);
  });

  it('two concurrent CreateNetwork asking for the same VNI: one succeeds, the other is ALREADY_EXISTS', async () => {
    for (const vni of [9001, 9002, 9003]) {
      const rs = await Promise.allSettled([via(0).network({ vni }), via(1).network({ vni })]);
      assert.deepEqual(codes(rs), ['ALREADY_EXISTS', 'OK'], `VNI ${vni}: ${why(rs)}`);
    }
    // And 30 at once without a VNI: 30 distinct ones.
    const made = await Promise.all(Array.from({ length: 30 }, (_, i) => via(i).network()));
    assert.equal(new Set(made.map((m) => m.vni)).size, 30, `VNIs: ${made.map((m) => m.vni).join(', ')}`);
  });

  it('concurrent requests for the last free address: exactly one wins, the rest are RESOURCE_EXHAUSTED', async () => {
    const net = await via(0).network();
    const s = await via(0).subnet(net.id, '10.51.0.0/29'); // .2 to .6
    for (let i = 0; i < 4; i++) await via(i).rpc('allocateIp', { subnetId: s.id });
    const rs = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => via(i).rpc('allocateIp', { subnetId: s.id })));
    assert.deepEqual(codes(rs), ['OK', ...Array(11).fill('RESOURCE_EXHAUSTED')], why(rs));
    assert.equal((rs.find((r) => r.status === 'fulfilled') as PromiseFulfilledResult<{ allocation: { ipAddress: string } }>).value.allocation.ipAddress, '10.51.0.6');
  });

  it('concurrent requests for one address: exactly one gets it, the rest are ALREADY_EXISTS', async () => {
    const net = await via(0).network();
    const s = await via(0).subnet(net.id, '10.52.0.0/24');
    const rs = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => via(i).rpc('allocateIp', { subnetId: s.id, ipAddress: '10.52.0.50' })));
    assert.deepEqual(codes(rs), [...Array(9).fill('ALREADY_EXISTS'), 'OK'], why(rs));
  });

  it('concurrent CreatePort for the last free address: one port, and the losers leave no MAC, address or reference behind', async () => {
    const net = await via(0).network();
    const s = await via(0).subnet(net.id, '10.53.0.0/30'); // one address: .2
    const rs = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => via(i).port(net.id, { subnetId: s.id })));
    assert.deepEqual(codes(rs), ['OK', ...Array(7).fill('RESOURCE_EXHAUSTED')], why(rs));
    const winner = (rs.find((r) => r.status === 'fulfilled') as PromiseFulfilledResult<{ id: string }>).value.id;
    for (const cp of [t.cp, second]) {
      const m = cp.network!;
      await cp.network!.reconciler.idle();
      assert.deepEqual([...m.models.networks.state(net.id)!.ports.keys()], [winner]);
      assert.deepEqual([...m.reservations.holds.macs.keys()].filter((p) => p !== winner && !m.models.ports.get(p)), [], 'no MAC held for a port that does not exist');
      assert.equal(m.reservations.holds.portRefs.get(winner)?.networkId, net.id);
    }
    assert.deepEqual((await via(1).rpc('listAllocations', { subnetId: s.id })).allocations.map((a) => a.portId), [winner]);
  });
});
