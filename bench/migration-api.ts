import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Agent } from '../src/agent/agent';
import { InstanceState, InstanceType } from '../src/gen/hypervisor/v1/common';
import { ComputeServiceClient } from '../src/gen/hypervisor/v1/compute';
import { removeStateDir, startAgent } from '../test/support/agent';
import { ConsoleSession, createRequest, InstanceWatch, MiB } from '../test/support/compute';
import { call, TestControlPlane } from '../test/support/control-plane';
import { ImageServer, testGuestDir } from '../test/support/image-server';

/**
 * The same 256 MiB microVM moved with MigrateInstance between two real QEMU agents on this
 * host (loopback), back and forth: wall time from the call to node_id on the target in
 * WatchInstance (target prepared, disk mirrored, memory copied, switch reported).
 */
export async function migrateThroughAgents(n: number): Promise<number[]> {
  const images = await new ImageServer(testGuestDir()).start();
  const t = await new TestControlPlane().start();
  const agents: Agent[] = [];
  try {
    for (const name of ['bench-mig-a', 'bench-mig-b']) agents.push(await startAgent(t, { hostname: name, stateDir: mkdtempSync(path.join(os.tmpdir(), `${name}-`)) }));
    const c = t.client(ComputeServiceClient);
    const watch = new InstanceWatch(c);
    const spec = { kernel: images.url('vmlinuz'), initrd: images.url('initramfs.cpio.gz'), memoryBytes: 256 * MiB, image: images.url('disk.raw'), disks: [{ name: 'root', sizeBytes: 32 * MiB, type: 'qcow2', boot: true }] };
    const i = await call(c, c.createInstance, createRequest('bench-mig', InstanceType.INSTANCE_TYPE_MICROVM, spec, { preferredNodeId: agents[0].nodeId }));
    await watch.state(i.id, InstanceState.INSTANCE_STATE_RUNNING, 120_000);
    const con = new ConsoleSession(c, i.id);
    if (!(await con.waitFor('HV-GUEST-READY', 60_000))) throw new Error('the guest did not boot');
    con.close();
    const out: number[] = [];
    for (let k = 0; k < n; k++) {
      const to = agents[(k + 1) % 2].nodeId;
      const mark = watch.events.length;
      const t0 = performance.now();
      await call(c, c.migrateInstance, { instanceId: i.id, targetNodeId: to, live: true });
      const e = await watch.until('moved', (x) => x.instance?.id === i.id && (x.instance.nodeId === to || /^migration to .* failed/.test(x.instance.stateReason)), 300_000, mark);
      if (e.instance!.nodeId !== to) throw new Error(e.instance!.stateReason);
      out.push(performance.now() - t0);
    }
    watch.close();
    return out;
  } finally {
    for (const a of agents) await a.stop();
    await t.stop();
    await images.stop();
    for (const a of agents) removeStateDir(a);
  }
}
