import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { ClusterServiceClient, UpdateNodeStatusRequest } from '../../src/gen/hypervisor/v1/cluster';
import { InstanceState, NodeStatus } from '../../src/gen/hypervisor/v1/common';
import type { Instance } from '../../src/gen/hypervisor/v1/compute';
import { CreateVolumeRequest, StorageServiceClient, VolumeStatus } from '../../src/gen/hypervisor/v1/storage';
import { containerNamespace, hostTag, vethName } from '../../src/sdn/names';
import { type ConsoleSession, MiB } from '../support/compute';
import { call, until } from '../support/control-plane';
import { mountsUnder, processesWith } from '../containers/support/host-checks';
import { LabRegistry } from './lab-registry';
import { DataplaneLab, root } from './support';

const INGRESS = 1;
const IPV4 = 1;

/**
 * Issue 22, items 5 and 6: containers move cold, with real runc between two network-namespace
 * hosts. A running container with a port is stopped on its host, made on the other from its
 * image on the port's second binding and started: the same address and MAC (reached from the
 * other host), a rootfs made afresh (a file written before the move is not there: the image's
 * rootfs is not copied, as Nova's and Incus's ephemeral disks), and its source keeps no process,
 * mount, veth or namespace of it. A drain of its node then moves it back, cold. A container's
 * StorageService volume goes with it (its file copied over NBD), holding what was written.
 */
describe('cold moves of containers between two network-namespace hosts (real runc)', function () {
  this.timeout(400_000);
  const registry = new LabRegistry();
  const t = DataplaneLab.forSuite(2, registry.labOptions());
  after(() => registry.stop());

  /** On host `to`, and a RUNNING one started there too (by the start work that follows the move: until then its reason says `, starting there`). */
  const moved = async (ct: Instance, to: number, mark: number) => {
    const e = await t.watch.until(
      `${ct.name} on host ${to}`,
      (x) => x.instance?.id === ct.id && ((x.instance.nodeId === t.nodeIds[to] && !x.instance.stateReason.endsWith(', starting there')) || /failed/.test(x.instance.stateReason)),
      120_000,
      mark,
    );
    assert.equal(e.instance!.nodeId, t.nodeIds[to], e.instance!.stateReason);
    return e.instance!;
  };
  const coldMove = async (ct: Instance, to: number) => {
    const mark = t.watch.events.length;
    await call(t.c, t.c.migrateInstance, { instanceId: ct.id, targetNodeId: t.nodeIds[to], live: false });
    return moved(ct, to, mark);
  };
  // A container may not ping (no CAP_NET_RAW): it connects over TCP to a listener in the mover, started on each host it runs on.
  const listen = (con: ConsoleSession) => t.sh(con, '(while true; do echo port7000 | nc -l -p 7000; done) >/dev/null 2>&1 & true');
  const reaches = (con: ConsoleSession, ip: string) =>
    until(`tcp/7000 of ${ip}`, async () => (await t.sh(con, `nc -w 2 ${ip} 7000 </dev/null`)).includes('port7000'), 30_000).then(() => true, () => false);

  it('a running container with a port moves cold: the same address and MAC, reached from the other host; the source keeps nothing of it; a drain moves it back', async () => {
    const { network, subnet } = await t.network('cold', '198.18.90.0/24', 1400);
    const group = await t.net.group({ name: 'icmp' });
    await t.net.rpc('addSecurityRule', { securityGroupId: group.id, direction: INGRESS, etherType: IPV4, protocol: 'tcp', portRangeMin: 7000, portRangeMax: 7000 });
    const mover = await t.container('mover', 0, registry.ref, ['/bin/sh', '-i'], network.id, subnet.id, [group.id]);
    const pinger = await t.container('pinger', 1, registry.ref, ['/bin/sh', '-i'], network.id, subnet.id, [group.id]);
    const [port] = (await t.net.rpc('listPorts', { instanceId: mover.id, pageSize: 10 })).ports;
    const mac = port.macAddress.toLowerCase();

    let cm = t.reattach(mover.id);
    assert.equal((await t.sh(cm, 'cat /sys/class/net/eth0/address')).trim(), mac);
    await t.sh(cm, 'echo written-on-host-0 > /tmp/mark');
    await listen(cm);
    let cp = t.reattach(pinger.id);
    assert.ok(await reaches(cp, mover.ipAddress), 'host 1 reaches the mover on host 0 before the move');

    // What host 0 holds of the mover before: so the checks after it can fail.
    const host0 = t.lab.hosts[0].name;
    const dir0 = path.join(t.agents[0].stateDir, 'oci', 'instances', mover.id);
    const ns0 = containerNamespace(hostTag(host0), mover.id);
    const held = async () => {
      const links = (await root.in(host0).ipJson<{ ifname: string }>(['link', 'show'])).map((l) => l.ifname);
      const nss = (await root.ipJson<{ name: string }>(['netns', 'list'])).map((n) => n.name);
      return {
        processes: processesWith(dir0).length > 0,
        mounts: mountsUnder(dir0).length > 0,
        veth: links.includes(vethName(port.id)),
        namespace: nss.includes(ns0),
      };
    };
    assert.deepEqual(await held(), { processes: true, mounts: true, veth: true, namespace: true }, 'host 0 runs the mover');

    cm.close();
    const there = await coldMove(mover, 1);
    assert.equal(there.stateReason, `moved cold from node ${host0}`);
    assert.equal(there.state, InstanceState.INSTANCE_STATE_RUNNING);
    assert.equal(there.ipAddress, mover.ipAddress);
    await until('the port bound on host 1', async () => (await t.net.rpc('listPorts', { instanceId: mover.id, pageSize: 10 })).ports[0]?.nodeId === t.nodeIds[1], 30_000);
    await until('host 0 keeps no process, mount, veth or namespace of the mover', async () => Object.values(await held()).every((x) => !x), 60_000);

    // The pinger moves the other way (cold too), so the connection crosses the hosts again.
    cp.close();
    await coldMove(pinger, 0);
    cm = t.reattach(mover.id);
    cp = t.reattach(pinger.id);
    const inside = await t.sh(cm, 'cat /sys/class/net/eth0/address; ip -4 addr show dev eth0; cat /tmp/mark 2>/dev/null || echo no-mark');
    assert.ok(inside.startsWith(`${mac}\n`), inside);
    assert.match(inside, new RegExp(`inet ${mover.ipAddress.replace(/\./g, '\\.')}/24 `), inside);
    assert.match(inside, /no-mark/, 'the rootfs is made afresh from the image on the target');
    await listen(cm);
    assert.ok(await reaches(cp, mover.ipAddress), 'host 0 reaches the mover on host 1 after the move');

    // A drain of host 1 moves the mover off it, cold, to the only other node.
    cm.close();
    const cluster = t.cp.client(ClusterServiceClient);
    const mark = t.watch.events.length;
    await call(cluster, cluster.updateNodeStatus, UpdateNodeStatusRequest.fromPartial({ nodeId: t.nodeIds[1], status: NodeStatus.NODE_STATUS_DRAINING, conditions: [] }));
    const back = await moved(mover, 0, mark);
    assert.equal(back.stateReason, `moved cold from node ${t.lab.hosts[1].name}`);
    assert.equal(back.state, InstanceState.INSTANCE_STATE_RUNNING);
    // Host 0's bridge had learned the mover's MAC at its VXLAN port; the target's announce moves it to the veth before any traffic.
    const learned = async () => (await root.in(host0).run('bridge', ['fdb', 'show'])).split('\n').filter((l) => l.toLowerCase().startsWith(`${mac} `) && l.includes(' master '));
    await until("host 0's bridge learned the mover at its veth", async () => (await learned()).some((l) => l.includes(`dev ${vethName(port.id)} `)), 10_000).catch(async (e) => {
      throw new Error(`${(e as Error).message}: ${(await learned()).join(' | ')}`);
    });
    cm = t.reattach(mover.id);
    await listen(cm);
    cm.close();
    assert.ok(await reaches(cp, mover.ipAddress), 'the pinger reaches the mover after the drain');
    await call(cluster, cluster.updateNodeStatus, UpdateNodeStatusRequest.fromPartial({ nodeId: t.nodeIds[1], status: NodeStatus.NODE_STATUS_READY, conditions: [] }));

    cp.close();
    for (const id of [mover.id, pinger.id]) await t.deleteInstance(id);
    await until('subnet deletable (DHCP ports gone)', () => t.net.rpc('deleteSubnet', { subnetId: subnet.id }).then(() => true, () => false), 30_000);
    await t.net.rpc('deleteNetwork', { networkId: network.id });
    await until('hosts clean', async () => (await Promise.all([0, 1].map((i) => t.leftovers(i)))).every((l) => l.length === 0), 30_000);
  });

  it('a STOPPED container moves cold and stays STOPPED; started, it runs on the target; the source keeps nothing of it', async () => {
    const { network, subnet } = await t.network('cold2', '198.18.91.0/24', 1400);
    const idle = await t.container('idle', 0, registry.ref, ['/bin/sh', '-i'], network.id, subnet.id);
    const stopped = await call(t.c, t.c.stopInstance, { instanceId: idle.id, force: true, timeoutSeconds: 0 });
    assert.equal(stopped.state, InstanceState.INSTANCE_STATE_STOPPED, stopped.stateReason);
    const dir0 = path.join(t.agents[0].stateDir, 'oci', 'instances', idle.id);
    assert.ok(existsSync(dir0), "host 0 holds the stopped container's files");

    const there = await coldMove(idle, 1);
    assert.equal(there.state, InstanceState.INSTANCE_STATE_STOPPED, there.stateReason);
    assert.equal(there.stateReason, `moved cold from node ${t.lab.hosts[0].name}`);
    assert.ok(existsSync(path.join(t.agents[1].stateDir, 'oci', 'instances', idle.id)), 'host 1 holds it, made and not started');
    await until('host 0 keeps no files or mount of it', async () => !existsSync(dir0) && mountsUnder(dir0).length === 0, 60_000);

    const started = await call(t.c, t.c.startInstance, { instanceId: idle.id });
    assert.equal(started.state, InstanceState.INSTANCE_STATE_RUNNING, started.stateReason);
    assert.equal(started.nodeId, t.nodeIds[1]);
    const con = t.reattach(idle.id);
    assert.match(await t.sh(con, 'ip -4 addr show dev eth0'), new RegExp(`inet ${idle.ipAddress.replace(/\./g, '\\.')}/24 `));
    con.close();

    await t.deleteInstance(idle.id);
    await until('subnet deletable (DHCP ports gone)', () => t.net.rpc('deleteSubnet', { subnetId: subnet.id }).then(() => true, () => false), 30_000);
    await t.net.rpc('deleteNetwork', { networkId: network.id });
    await until('hosts clean', async () => (await Promise.all([0, 1].map((i) => t.leftovers(i)))).every((l) => l.length === 0), 30_000);
  });

  it("a container with a StorageService volume moves cold with the volume's data: read back on the target, the volume's node_id follows, the source keeps no file of it", async () => {
    const { network, subnet } = await t.network('cold4', '198.18.93.0/24', 1400);
    const keeper = await t.container('keeper', 0, registry.ref, ['/bin/sh', '-i'], network.id, subnet.id);
    const s = t.cp.client(StorageServiceClient);
    const v = await call(s, s.createVolume, CreateVolumeRequest.fromPartial({ name: 'kept', sizeBytes: BigInt(32 * MiB), preferredNodeId: t.nodeIds[0] }));
    await until('the volume AVAILABLE', async () => (await call(s, s.getVolume, { volumeId: v.id })).status === VolumeStatus.VOLUME_STATUS_AVAILABLE, 60_000);
    // A container's mounts are made when it starts: attached while it is stopped.
    await call(t.c, t.c.stopInstance, { instanceId: keeper.id, force: true, timeoutSeconds: 0 });
    await call(s, s.attachVolume, { volumeId: v.id, instanceId: keeper.id, devicePath: '/data' });
    const started = await call(t.c, t.c.startInstance, { instanceId: keeper.id });
    assert.equal(started.state, InstanceState.INSTANCE_STATE_RUNNING, started.stateReason);
    let con = t.reattach(keeper.id);
    await t.sh(con, 'echo kept-$((6*7)) > /data/marker; sync');
    assert.match(await t.sh(con, 'cat /data/marker'), /kept-42/);
    con.close();
    const fileOn = (host: number) => path.join(t.agents[host].stateDir, 'volumes', 'volumes', `${v.id}.qcow2`);
    assert.ok(existsSync(fileOn(0)), 'host 0 holds the volume');

    const there = await coldMove(keeper, 1);
    assert.deepEqual([there.state, there.stateReason], [InstanceState.INSTANCE_STATE_RUNNING, `moved cold from node ${t.lab.hosts[0].name}`]);
    con = t.reattach(keeper.id);
    assert.match(await t.sh(con, 'cat /data/marker'), /kept-42/);
    con.close();
    await until("the volume's node_id on host 1", async () => (await call(s, s.getVolume, { volumeId: v.id })).nodeId === t.nodeIds[1], 30_000);
    assert.ok(existsSync(fileOn(1)), 'host 1 holds the volume');
    await until("host 0's copy of the volume removed", () => !existsSync(fileOn(0)), 60_000);

    await t.deleteInstance(keeper.id);
    await until('the volume freed by the delete', async () => (await call(s, s.getVolume, { volumeId: v.id })).status === VolumeStatus.VOLUME_STATUS_AVAILABLE, 60_000);
    await call(s, s.deleteVolume, { volumeId: v.id, force: false });
    await until('subnet deletable (DHCP ports gone)', () => t.net.rpc('deleteSubnet', { subnetId: subnet.id }).then(() => true, () => false), 30_000);
    await t.net.rpc('deleteNetwork', { networkId: network.id });
    await until('hosts clean', async () => (await Promise.all([0, 1].map((i) => t.leftovers(i)))).every((l) => l.length === 0), 30_000);
  });

  it('a cold move the target fails (its files cannot be written) leaves the container on its source, started again there and reached as before', async () => {
    const { network, subnet } = await t.network('cold3', '198.18.92.0/24', 1400);
    const group = await t.net.group({ name: 'tcp7000' });
    await t.net.rpc('addSecurityRule', { securityGroupId: group.id, direction: INGRESS, etherType: IPV4, protocol: 'tcp', portRangeMin: 7000, portRangeMax: 7000 });
    const stay = await t.container('stay', 0, registry.ref, ['/bin/sh', '-i'], network.id, subnet.id, [group.id]);
    const client = await t.container('client', 1, registry.ref, ['/bin/sh', '-i'], network.id, subnet.id, [group.id]);
    const cc = t.reattach(client.id);
    // The target's directory for it is a read-only mount: the create there fails as a full or broken disk would.
    const dir1 = path.join(t.agents[1].stateDir, 'oci', 'instances', stay.id);
    mkdirSync(dir1, { recursive: true });
    await root.run('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', dir1]);
    try {
      const mark = t.watch.events.length;
      await call(t.c, t.c.migrateInstance, { instanceId: stay.id, targetNodeId: t.nodeIds[1], live: false });
      const failed = await t.watch.until('the move failed', (e) => e.instance?.id === stay.id && /^cold move to node /.test(e.instance.stateReason), 120_000, mark);
      assert.match(failed.instance!.stateReason, new RegExp(`^cold move to node ${t.lab.hosts[1].name} failed: on the target: .*; it stays on node ${t.lab.hosts[0].name}, started again there$`));
      assert.equal(failed.instance!.nodeId, t.nodeIds[0]);
      const again = await t.watch.until('running again on host 0', (e) => e.instance?.id === stay.id && e.instance.stateReason === '', 60_000, t.watch.events.indexOf(failed) + 1);
      assert.deepEqual([again.instance!.nodeId, again.instance!.state], [t.nodeIds[0], InstanceState.INSTANCE_STATE_RUNNING]);
    } finally {
      await root.run('umount', [dir1]).catch(() => undefined);
    }
    const cs = t.reattach(stay.id);
    await listen(cs);
    assert.ok(await reaches(cc, stay.ipAddress), 'host 1 reaches it on host 0 again');
    await until('the port stays bound on host 0', async () => (await t.net.rpc('listPorts', { instanceId: stay.id, pageSize: 10 })).ports[0]?.nodeId === t.nodeIds[0], 30_000);
    cs.close();
    cc.close();

    for (const id of [stay.id, client.id]) await t.deleteInstance(id);
    await until('subnet deletable (DHCP ports gone)', () => t.net.rpc('deleteSubnet', { subnetId: subnet.id }).then(() => true, () => false), 30_000);
    await t.net.rpc('deleteNetwork', { networkId: network.id });
    await until('hosts clean', async () => (await Promise.all([0, 1].map((i) => t.leftovers(i)))).every((l) => l.length === 0), 30_000);
  });
});
