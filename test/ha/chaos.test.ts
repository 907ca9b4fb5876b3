import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { status } from '@grpc/grpc-js';
import { consumerOpts } from 'nats';
import type { RecordedEvent } from '../../src/eventstore/event';
import { JetStreamEventStore } from '../../src/eventstore/jetstream/jetstream-event-store';
import { FEED_STREAM } from '../../src/feed/subjects';
import { NetworkType } from '../../src/gen/hypervisor/v1/network';
import { call } from '../support/control-plane';
import { HaLab } from '../support/ha-lab';
import { HaLoad, ReplicaClients, type Write } from '../support/ha-load';
import { nodeRegistration } from '../support/nodes';
import { singletonsOnce } from '../support/replicas';
import { until } from '../support/until';

/** Load and phase length: modest by default (a shared 2-core machine); bench/ha.ts runs the larger one. */
const CLIENTS = Number(process.env.HV_HA_CLIENTS ?? 4);
const WATCHERS = Number(process.env.HV_HA_WATCHERS ?? 2);
const PHASE_MS = Number(process.env.HV_HA_PHASE_SECONDS ?? 4) * 1000;
const STREAMS = ['HV_LOG', FEED_STREAM, 'KV_HV_SINGLETONS', 'KV_HV_NODE_LEASES'];
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Issue 24's chaos test: three nats-servers in network namespaces, three
 * server replicas; while clients write through every replica and others
 * watch, kill -9 the nats-server leading the log, then a server replica, then
 * cut a nats-server off and heal it. Then count what was lost or doubled.
 */
describe('HA under faults: writes and watches through three replicas on a three-server NATS cluster', function () {
  this.timeout(600_000);
  let lab: HaLab;
  let load: HaLoad;
  let clients: ReplicaClients[] = [];
  const faults: { what: string; at: number }[] = [];
  const heartbeats: string[] = [];
  let beating: NodeJS.Timeout | undefined;
  let subnetId = '';

  before(async () => {
    lab = await HaLab.start();
    clients = lab.replicas.map((r) => new ReplicaClients(r));
    const live = () => clients.filter((c) => c.replica.running);
    // The subnet AllocateIP takes addresses from, and hollow nodes the instances are placed on (kept READY by heartbeats).
    const c = clients[0];
    const net = await call(c.network, c.network.createNetwork, { name: 'chaos', type: NetworkType.NETWORK_TYPE_VXLAN, vni: 0, vlanId: 0, mtu: 0, shared: false, external: false, tenantId: '', metadata: undefined });
    const subnet = await call(c.network, c.network.createSubnet, { name: 'chaos', networkId: net.network!.id, cidr: '10.77.0.0/16', gatewayIp: '', dnsServers: [], allocationPools: [], enableDhcp: false });
    for (let n = 0; n < 3; n++) {
      const { nodeId } = await call(c.cluster, c.cluster.registerNode, nodeRegistration(`hollow-${n}`, { capacity: { cpuCores: 65_536, memoryBytes: 2n ** 45n, diskBytes: 0n, gpuCount: 0 } }));
      heartbeats.push(nodeId);
    }
    let turn = 0;
    beating = setInterval(() => {
      const l = live();
      for (const nodeId of heartbeats) {
        const rc = l[turn++ % l.length];
        rc?.cluster.heartbeat({ nodeId, status: 1, conditions: [], allocated: undefined }, () => undefined);
      }
    }, 1000);
    subnetId = subnet.subnet!.id;
    load = new HaLoad(live, { clients: CLIENTS, watchers: WATCHERS, subnetId, kernel: `http://${lab.hosts.rootIp}:1/vmlinuz`, tag: 'chaos' });
  });
  after(async () => {
    if (beating) clearInterval(beating);
    await load?.stop().catch(() => undefined);
    for (const c of clients) c.close();
    await lab?.stop();
  });

  it('survives kill -9 of the log leader, kill -9 of a replica, and a partitioned nats-server', async () => {
    load.start();
    try {
      await faultSequence();
    } finally {
      await load.stop();
    }
    const oks = load.writes.filter((w) => w.ok);
    assert.ok(oks.length > 0, 'writes were acknowledged');
    for (const f of faults) process.stdout.write(`      ${f.what}: next acknowledged write after ${load.firstOkAfter(f.at)} ms\n`);
    process.stdout.write(`      ${oks.length} writes OK, ${load.writes.length - oks.length} not, ${load.writes.reduce((n, w) => n + w.attempts.length, 0)} failed attempts\n`);
  });

  const faultSequence = async () => {
    await pause(PHASE_MS);
    const leader = await lab.nats.leaderOf('HV_LOG');
    faults.push({ what: `kill -9 nats-server ${leader.name} (HV_LOG leader)`, at: Date.now() });
    leader.kill9();
    await pause(PHASE_MS);
    lab.nats.restart(leader);
    // One fault at a time: the next only once the restarted server caught up (see docs/reliability.md).
    await lab.nats.caughtUp(STREAMS);
    await pause(PHASE_MS);
    const owners = await until('every singleton held once', () => singletonsOnce(lab.live), 30_000);
    const victim = owners.get('scheduler')!;
    faults.push({ what: `kill -9 server replica ${victim.address}`, at: Date.now() });
    await victim.kill9();
    await pause(PHASE_MS);
    const cut = lab.nats.members[(lab.nats.members.indexOf(leader) + 1) % 3];
    // Printed with the fault: a write waits out Raft's 4-9 s election when the cut server leads HV_LOG or the leases' bucket.
    const leaders: string[] = [];
    for (const s of STREAMS) leaders.push(`${s} ${(await lab.nats.leaderOf(s)).name}`);
    faults.push({ what: `cut nats-server ${cut.name} off (leaders: ${leaders.join(', ')})`, at: Date.now() });
    await lab.cut(cut);
    await pause(PHASE_MS);
    await lab.heal(cut);
    faults.push({ what: `heal nats-server ${cut.name}`, at: Date.now() });
    await pause(PHASE_MS);
    await lab.nats.caughtUp(STREAMS);
    if (process.env.HV_HA_LOGS) for (const [i, r] of lab.replicas.entries()) writeFileSync(path.join(process.env.HV_HA_LOGS, `replica-${i}.log`), r.log);
  };

  it('failed writes only with UNAVAILABLE (never DEADLINE_EXCEEDED); retried with its request id, each ended OK', () => {
    // A command lost on the way at a fault, an append whose stream leader died, a read model behind the log: the server
    // answers UNAVAILABLE ("retry with the same x-request-id") before the client's deadline, never the client's clock.
    const other = load.writes.flatMap((w) => w.attempts.filter((a) => a.code !== status.UNAVAILABLE).map((a) => ({ op: w.op, ...a, sinceFaults: faults.map((f) => a.at - f.at) })));
    assert.deepEqual(other.slice(0, 3), [], `${other.length} failures were not UNAVAILABLE`);
    const counts = load.writes.flatMap((w) => w.attempts).reduce((m, a) => m.set(a.code, (m.get(a.code) ?? 0) + 1), new Map<number, number>());
    process.stdout.write(`      failed attempts by code: ${JSON.stringify(Object.fromEntries(counts))}\n`);
    // Only a write the load stopped in the middle of its retries may have ended without OK.
    const unfinished = load.writes.filter((w) => !w.ok);
    assert.ok(unfinished.length <= CLIENTS, `${unfinished.length} writes never ended OK`);
  });

  it('has every acknowledged write through every live replica, none twice', async () => {
    const oks = load.writes.filter((w) => w.ok);
    for (const rc of clients.filter((c) => c.replica.running)) {
      for (const w of oks) await assertThere(rc, w);
      const allocations = (await call(rc.network, rc.network.listAllocations, { subnetId })).allocations;
      for (const w of oks.filter((x) => x.op === 'AllocateIP'))
        assert.equal(
          allocations.filter((a) => a.hostname === w.name && a.ipAddress === w.result).length,
          1,
          `${w.name} allocated once (${JSON.stringify(w)}; with its address: ${JSON.stringify(allocations.filter((a) => a.ipAddress === w.result))}; of ${allocations.length})`,
        );
    }
  });

  it('holds every event in the log once, the audit trail of each write, and HV_EVENTS has each event once', async () => {
    const nc = await lab.nats.connect();
    const store = await until('the log open', () => JetStreamEventStore.open(nc).catch(() => undefined), 30_000);
    const events: RecordedEvent[] = [];
    for await (const e of store.readAll(0)) events.push(e);
    const byType = (t: string) => events.filter((e) => e.type === t);
    // The log has no hole: every position from its first to its last holds its commit.
    const log = (await (await nc.jetstreamManager()).streams.info('HV_LOG')).state;
    assert.equal(log.messages, log.last_seq - log.first_seq + 1, `HV_LOG has holes: ${JSON.stringify(log)}`);
    for (const w of load.writes.filter((x) => x.ok && x.op === 'AllocateIP')) {
      const n = byType('IpAllocated').filter((e) => (e.data as { allocationId: string }).allocationId === w.id).length;
      assert.equal(n, 1, `${w.name}: its IpAllocated (allocation ${w.id}) is in the log ${n} times`);
    }
    for (const w of load.writes.filter((x) => x.ok)) {
      const created = { RegisterNode: 'NodeRegistered', CreateNetwork: 'NetworkCreated', CreateInstance: 'InstanceRequested', AllocateIP: undefined }[w.op];
      if (created) assert.equal(byType(created).filter((e) => e.aggregateId === w.result).length, 1, `${w.op} ${w.name}: one ${created} in the log`);
    }
    // Every instance was placed once: a second InstanceScheduled would be a second scheduler acting.
    const scheduled = new Map<string, number>();
    for (const e of byType('InstanceScheduled')) scheduled.set(e.aggregateId, (scheduled.get(e.aggregateId) ?? 0) + 1);
    for (const [id, n] of scheduled) assert.equal(n, 1, `instance ${id} scheduled ${n} times`);
    // Every instance created is placed (on a hollow node), the last ones perhaps after the log was read: read on from there.
    let unplaced = load.writes.filter((x) => x.ok && x.op === 'CreateInstance' && !scheduled.has(x.result!)).map((x) => x.result!);
    let after = events.at(-1)?.revision ?? 0;
    await until(`every instance scheduled (${unplaced.length} not yet)`, async () => {
      for await (const e of store.readAll(after)) {
        after = Math.max(after, e.revision);
        if (e.type === 'InstanceScheduled') unplaced = unplaced.filter((id) => id !== e.aggregateId);
      }
      return unplaced.length === 0;
    }, 30_000);
    // The feed: one message per event, none twice (Nats-Msg-Id), once the relay caught up.
    const jsm = await nc.jetstreamManager();
    let held = 0;
    await until('HV_EVENTS caught up', async () => (held = (await jsm.streams.info(FEED_STREAM)).state.messages) >= events.length, 60_000).catch((e: Error) => {
      // Say how far the feed got and what the relays logged, so a failure here tells stuck from lost.
      const relayLines = lab.replicas.flatMap((r, i) => r.log.split('\n').filter((l) => /relay/i.test(l)).map((l) => `replica ${i}: ${l.slice(0, 300)}`));
      throw new Error(`${e.message}: HV_EVENTS holds ${held} messages, the log ${events.length} events; the relays' last lines: ${relayLines.slice(-8).join(' | ') || 'none'}`);
    });
    const ids = new Set<string>();
    const bodies = new Map<string, string>();
    const sub = await nc.jetstream().subscribe(`hv.events.>`, consumerOpts().orderedConsumer().deliverAll());
    let count = 0;
    const total = (await jsm.streams.info(FEED_STREAM)).state.messages;
    for await (const m of sub) {
      const id = m.headers?.get('Nats-Msg-Id') ?? '';
      assert.ok(!ids.has(id), `HV_EVENTS holds ${id} twice`);
      ids.add(id);
      bodies.set(id, `${m.subject} seq ${m.seq} ${new TextDecoder().decode(m.data).slice(0, 400)}`);
      if (++count >= total) break;
    }
    sub.unsubscribe();
    // Events written after the log was read above (liveness goes on marking silent nodes) are left out.
    const lastRead = events.at(-1)?.revision ?? 0;
    const logIds = new Set(events.map((e) => e.id));
    const extra = [...ids].filter((id) => !logIds.has(id) && Number(/"revision":"?(\d+)/.exec(bodies.get(id) ?? '')?.[1]) <= lastRead);
    const commits = new Set(events.map((e) => e.revision)).size;
    assert.deepEqual(extra.slice(0, 5), [], `HV_EVENTS has ${extra.length} events the log does not (log: ${events.length} events in ${commits} commits read, ${JSON.stringify(log)}; HV_EVENTS ${ids.size})`);
    const upTo = [...bodies.values()].filter((b) => Number(/"revision":"?(\d+)/.exec(b)?.[1]) <= lastRead).length;
    assert.equal(upTo, events.length, 'HV_EVENTS holds as many events up to the log position read as the log');
  });

  it('let every watcher see every node change once, in order, across its resumes', async () => {
    const rc = clients.find((c) => c.replica.running)!;
    // The reference: the same watch read in one go from one live replica now.
    const reference: string[] = [];
    const s = rc.cluster.watchNodes({ role: 0, region: '', zone: '', nodeIds: [], sinceRevision: 1n });
    const last = Math.max(...load.watched.map((w) => Number(w.at(-1)?.revision ?? 0)));
    for await (const e of s) {
      reference.push(`${e.revision}:${e.type}:${e.node?.id}`);
      if (Number(e.revision) >= last) break;
    }
    s.cancel();
    for (const [i, w] of load.watched.entries()) {
      const got = w.map((e) => `${e.revision}:${e.type}:${e.node?.id}`);
      const differ = got.findIndex((g, k) => g !== reference[k]);
      assert.equal(differ, -1, `watcher ${i} differs from the log's node changes at ${differ}: ${got.slice(Math.max(0, differ - 2), differ + 3).join(' ')} / ${reference.slice(Math.max(0, differ - 2), differ + 3).join(' ')}`);
      assert.ok(got.length <= reference.length);
      assert.ok(got.length > 0);
    }
  });

  it('ends with every singleton on exactly one live replica', async () => {
    await until('every singleton held once by a live replica', () => singletonsOnce(lab.live), 30_000);
  });
});

/** The write's result, read back through one replica. */
const assertThere = async (rc: ReplicaClients, w: Write): Promise<void> => {
  switch (w.op) {
    case 'RegisterNode':
      assert.equal((await call(rc.cluster, rc.cluster.getNode, { nodeId: w.result! })).hostname, w.name);
      return;
    case 'CreateNetwork':
      assert.equal((await call(rc.network, rc.network.getNetwork, { networkId: w.result! })).network?.name, w.name);
      return;
    case 'CreateInstance':
      assert.equal((await call(rc.compute, rc.compute.getInstance, { instanceId: w.result! })).name, w.name);
      return;
    case 'AllocateIP':
      return; // checked against ListAllocations by the caller
  }
};
