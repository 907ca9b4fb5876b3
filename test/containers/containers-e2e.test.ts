import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import type { Agent } from '../../src/agent/agent';
import { readCgroupLayout, readCpuLimit } from '../../src/agent/drivers/oci/cgroups';
import { InstanceState, InstanceType } from '../../src/gen/hypervisor/v1/common';
import { type ComputeServiceClient, ListImagesRequest } from '../../src/gen/hypervisor/v1/compute';
import { inspectManifest } from '../../src/images/oci/skopeo';
import { parseOciRef } from '../../src/domain/oci-reference';
import { ConsoleSession, createRequest, type InstanceWatch, MiB, pull } from '../support/compute';
import { call, rejectsWith } from '../support/control-plane';
import { processesWith } from './support/host-checks';
import { ContainerLab, NOTHING_LEFT } from './support/lab';
import { LOOPBACK_ALLOWED } from './support/registry';

const CONTAINER = InstanceType.INSTANCE_TYPE_CONTAINER;

describe('containers end to end: gRPC client, control plane, agent with the oci driver, real runc and registry', function () {
  this.timeout(120_000);
  const lab = new ContainerLab({ layered: true });
  const { token, registry, t } = lab;
  let agent: Agent;
  let c: ComputeServiceClient;
  let watch: InstanceWatch;
  let ref: string;
  const leftovers = (id: string) => lab.leftovers(id);
  const nothing = NOTHING_LEFT;

  before(async () => {
    await lab.start();
    ({ agent, c, watch, ref } = lab);
  });
  after(() => lab.stop());

  it('the node advertises container', async () => {
    const node = await call(t.cluster(), t.cluster().getNode, { nodeId: agent.nodeId });
    assert.ok(node.supportedInstanceTypes.includes('container'), String(node.supportedInstanceTypes));
  });

  it('PullImage of a two-layer image: one progress message per layer, bytes adding up to the total', async () => {
    const r = await pull(c, `oci://${registry.address}/${token}/busybox:layered`);
    assert.equal(r.code, 0, r.details);
    const layers = r.progress.filter((p) => /^layer [12]\/2 sha256:[0-9a-f]{64}: .* digest verified$/.test(p.status));
    assert.equal(layers.length, 2, r.progress.map((p) => p.status).join('\n'));
    assert.ok(layers[0].current < layers[1].current, 'progress grows layer by layer');
    assert.equal(layers[1].current, layers[1].total);
    assert.deepEqual(new Set(layers.map((p) => p.status.split(' ')[1])), new Set(['1/2', '2/2']));
  });

  it('PullImage: progress per layer, every digest verified, listed as a CONTAINER image', async () => {
    const r = await pull(c, ref);
    assert.equal(r.code, 0, r.details);
    const statuses = r.progress.map((p) => p.status);
    assert.ok(statuses.some((s) => /^manifest sha256:[0-9a-f]{64}: 1 layer/.test(s)), statuses.join('\n'));
    const layer = r.progress.find((p) => /^layer 1\/1 sha256:[0-9a-f]{64}: .* digest verified$/.test(p.status));
    assert.ok(layer, statuses.join('\n'));
    assert.ok(Number(layer.total) > 0 && Number(layer.current) === Number(layer.total));
    const last = r.progress[r.progress.length - 1];
    assert.equal(last.completed, true);
    const list = await call(c, c.listImages, ListImagesRequest.fromPartial({ type: CONTAINER }));
    const img = list.images.find((i) => i.name === `${token}/busybox:1`);
    assert.ok(img, list.images.map((i) => i.name).join(', '));
    assert.equal(img.type, CONTAINER);
    const digest = (await inspectManifest(parseOciRef('x', ref), LOOPBACK_ALLOWED)).digest;
    assert.ok(img.tags.includes(`sha256:${digest.slice(7)}`), img.tags.join(','));
    // Pinned by digest: the same image again.
    const again = await pull(c, `oci://${registry.address}/${token}/busybox@${digest}`);
    assert.equal(again.code, 0, again.details);
  });

  it('PullImage failures are clear and record nothing: a missing tag, an unreachable registry, a bad reference, a wrong digest', async () => {
    const before = (await call(c, c.listImages, ListImagesRequest.fromPartial({}))).images.length;
    const missing = await pull(c, `oci://${registry.address}/${token}/busybox:nope`);
    assert.equal(missing.code, status.NOT_FOUND, missing.details);
    assert.match(missing.details, /no such image/);
    const unreachable = await pull(c, `oci://127.0.0.1:1/${token}/busybox:1`);
    assert.equal(unreachable.code, status.UNAVAILABLE, unreachable.details);
    const bad = await pull(c, 'oci://127.0.0.1:1/UPPER:1');
    assert.equal(bad.code, status.INVALID_ARGUMENT);
    assert.match(bad.details, /^image_ref: repository/);
    const wrong = await pull(c, `oci://${registry.address}/${token}/busybox@sha256:${'0'.repeat(64)}`);
    assert.equal(wrong.code, status.NOT_FOUND, wrong.details);
    assert.equal((await call(c, c.listImages, ListImagesRequest.fromPartial({}))).images.length, before);
  });

  it('a digest mismatch from the registry fails the pull', async () => {
    const m = await inspectManifest(parseOciRef('x', ref), LOOPBACK_ALLOWED);
    const restore = registry.corruptBlob(m.layers[0].digest);
    try {
      const r = await pull(c, ref);
      assert.equal(r.code, status.FAILED_PRECONDITION, r.details);
      assert.match(r.details, /digest mismatch/i);
    } finally {
      restore();
    }
  });

  it('a container with command, args and env: the console answers and shows the env; stats; stop, start, restart, delete leave nothing', async () => {
    const created = await call(
      c,
      c.createInstance,
      createRequest('ctr-life', CONTAINER, { image: ref, memoryBytes: 64 * MiB, command: ['/bin/sh'], args: ['-i'], env: { HV_GREETING: 'hello-from-spec' } }),
    );
    const id = created.id;
    const running = (await watch.state(id, InstanceState.INSTANCE_STATE_RUNNING, 60_000)).instance!;
    assert.equal(running.nodeId, agent.nodeId);
    const con = new ConsoleSession(c, id);
    const from = con.text.length;
    con.type('echo "g=$HV_GREETING i=$HV_FROM_IMAGE n=$((6*7))"\n');
    assert.ok(await con.waitFor('g=hello-from-spec i=image n=42', 10_000, from), con.text);
    con.resize(100, 30);
    const f2 = con.text.length;
    con.type('stty size\n');
    assert.ok(await con.waitFor('30 100', 10_000, f2), con.text.slice(f2));
    con.type('i=0; while [ $i -lt 30000 ]; do i=$((i+1)); done; echo "loop-$((1+1))"\n');
    assert.ok(await con.waitFor('loop-2', 20_000, f2));
    con.close();
    const stats = await call(c, c.getInstanceStats, { instanceId: id });
    assert.ok(Number(stats.cpuTimeNs) > 0, `cpu ${stats.cpuTimeNs}`);
    assert.ok(Number(stats.memoryUsedBytes) > 0, `memory ${stats.memoryUsedBytes}`);
    const cpu = await readCpuLimit(readCgroupLayout(), `/${token}/${id}`);
    assert.deepEqual(cpu, { quota: 100_000, period: 100_000 });

    const stopped = await call(c, c.stopInstance, { instanceId: id, force: false, timeoutSeconds: 1 });
    assert.equal(stopped.state, InstanceState.INSTANCE_STATE_STOPPED, stopped.stateReason);
    assert.deepEqual(processesWith(`--id ${id}`), [], 'the shim is gone');
    const started = await call(c, c.startInstance, { instanceId: id });
    assert.equal(started.state, InstanceState.INSTANCE_STATE_RUNNING, started.stateReason);
    const restarted = await call(c, c.restartInstance, { instanceId: id, force: true });
    assert.equal(restarted.state, InstanceState.INSTANCE_STATE_RUNNING, restarted.stateReason);
    const con2 = new ConsoleSession(c, id);
    const f3 = con2.text.length;
    con2.type('echo "again-$((2*3))"\n');
    assert.ok(await con2.waitFor('again-6', 10_000, f3));
    con2.close();
    await call(c, c.deleteInstance, { instanceId: id, force: false });
    await watch.until(`${id} deleted`, (e) => e.type === 3 && e.instance?.id === id, 30_000);
    assert.deepEqual(leftovers(id), nothing);
  });

  it('a container over its 32 MiB memory limit is FAILED, and the reason says OOM', async () => {
    const created = await call(
      c,
      c.createInstance,
      createRequest('ctr-oom', CONTAINER, {
        image: ref,
        memoryBytes: 64 * MiB,
        command: ['/bin/sh'],
        args: ['-c', 'sleep 1; dd if=/dev/zero of=/dev/null bs=64M count=4'],
        limits: { cpuQuota: 0n, cpuPeriod: 0n, memoryLimit: BigInt(32 * MiB), memorySwap: 0n, ioReadBps: 0n, ioWriteBps: 0n },
      }),
    );
    const failed = (await watch.state(created.id, InstanceState.INSTANCE_STATE_FAILED, 60_000)).instance!;
    assert.match(failed.stateReason, /OOM/);
    await call(c, c.deleteInstance, { instanceId: created.id, force: false });
  });

  it('refuses what a container cannot have: a volume name that leaves the state dir, a disk image', async () => {
    await rejectsWith(
      call(c, c.createInstance, createRequest('ctr-vol', CONTAINER, { image: ref, volumeMounts: [{ name: '../etc', mountPath: '/data', readOnly: false }] })),
      status.INVALID_ARGUMENT,
      /spec.volume_mounts\[0\].name/,
    );
    await rejectsWith(call(c, c.createInstance, createRequest('ctr-http', CONTAINER, { image: 'http://127.0.0.1:1/disk.raw' })), status.INVALID_ARGUMENT, /oci:\/\//);
  });

  it('a volume written by one container is read by the next; read_only refuses writes', async () => {
    const vol = [{ name: `data-${token}`, mountPath: '/data', readOnly: false }];
    const w = await call(c, c.createInstance, createRequest('ctr-vol-w', CONTAINER, { image: ref, command: ['/bin/sh'], args: ['-c', 'echo written-by-w > /data/f; sleep 1000'], volumeMounts: vol }));
    await watch.state(w.id, InstanceState.INSTANCE_STATE_RUNNING, 60_000);
    const r = await call(c, c.createInstance, createRequest('ctr-vol-r', CONTAINER, { image: ref, volumeMounts: [{ ...vol[0], readOnly: true }] }));
    await watch.state(r.id, InstanceState.INSTANCE_STATE_RUNNING, 60_000);
    const con = new ConsoleSession(c, r.id);
    const from = con.text.length;
    con.type('until [ -f /data/f ]; do sleep 0.1; done; cat /data/f; echo x > /data/g\n');
    assert.ok(await con.waitFor('written-by-w', 10_000, from), con.text.slice(from));
    assert.ok(await con.waitFor('Read-only file system', 10_000, from), con.text.slice(from));
    con.close();
    for (const id of [w.id, r.id]) await call(c, c.deleteInstance, { instanceId: id, force: false });
  });
});
