import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { ClusterServiceClient, ListNodesRequest } from '../../src/gen/hypervisor/v1/cluster';
import { EventType, InstanceState, InstanceType } from '../../src/gen/hypervisor/v1/common';
import { ComputeServiceClient } from '../../src/gen/hypervisor/v1/compute';
import { freePorts } from '../../src/nats/embedded-nats-server';
import { ConsoleSession, createRequest, InstanceWatch, MiB } from '../support/compute';
import { call, until } from '../support/control-plane';
import { ImageServer, testGuestDir } from '../support/image-server';
import { processesNaming } from '../support/our-processes';

const MAIN = path.join(__dirname, '..', '..', 'src', 'main.js');

/**
 * The path a new user takes: `npm start` (no accelerator setting: the agent decides by
 * booting a kernel), then the README's VM, then its console. Whatever this host's KVM
 * does, the VM must answer; the node says which accelerator it chose and why.
 */
describe('the default path: npm start with no settings boots the README VM and its console answers', function () {
  this.timeout(240_000);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'hv-default-'));
  let images: ImageServer;
  after(async () => {
    await images?.stop();
    for (const p of processesNaming(`${dataDir}/`)) process.kill(p.pid, 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('chooses an accelerator that runs guests, shows it on the node, and the VM answers on its console', async () => {
    images = await new ImageServer(testGuestDir()).start();
    const [natsPort, grpcPort, httpPort] = await freePorts(3);
    // As the README starts it for its VM (images on a loopback server), on ports of its own:
    // no --agent-accel, no HV_QEMU_ACCEL.
    const env = { ...process.env };
    delete env.HV_QEMU_ACCEL;
    const child = spawn(
      process.execPath,
      [MAIN, '--data-dir', dataDir, '--embedded-nats-port', String(natsPort), '--grpc-host', '127.0.0.1', '--grpc-port', String(grpcPort), '--http-port', String(httpPort), '--image-allow-cidr', '127.0.0.0/8'],
      { stdio: ['ignore', 'pipe', 'pipe'], env },
    );
    let log = '';
    child.stdout!.on('data', (d) => (log += d));
    child.stderr!.on('data', (d) => (log += d));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const address = `127.0.0.1:${grpcPort}`;
    const cluster = new ClusterServiceClient(address, credentials.createInsecure());
    const compute = new ComputeServiceClient(address, credentials.createInsecure());
    let watch: InstanceWatch | undefined;
    try {
      await until('serving', () => /hypervisor-server serving/.test(log) || (child.exitCode !== null ? Promise.reject(new Error(log)) : undefined), 60_000);
      const chosen = await until('the accelerator choice logged', () =>
        log.split('\n').map((l) => (l.startsWith('{') ? JSON.parse(l) : {})).find((l) => l.msg === 'accelerator chosen'), 90_000);
      assert.match(chosen.accel, /^(kvm|tcg)$/);
      assert.match(chosen.reason, chosen.accel === 'kvm' ? /^kvm-ok: / : /^kvm-(failed|unavailable|untested): /);

      const node = await until('the node shows its Accelerator condition', async () => {
        const { nodes } = await call(cluster, cluster.listNodes, ListNodesRequest.fromPartial({ pageSize: 10 }));
        return nodes.find((n) => n.conditions.some((c) => c.type === 'Accelerator'));
      }, 60_000);
      const accel = node.conditions.find((c) => c.type === 'Accelerator')!;
      assert.deepEqual([accel.status, accel.reason], [chosen.accel, chosen.reason]);

      // The README's VM, as its CreateInstance shows it.
      watch = new InstanceWatch(compute);
      const created = await call(
        compute,
        compute.createInstance,
        createRequest('demo', InstanceType.INSTANCE_TYPE_VM, {
          cpuCores: 1,
          memoryBytes: 256 * MiB,
          kernel: images.url('vmlinuz'),
          initrd: images.url('initramfs.cpio.gz'),
          image: images.url('disk.raw'),
          disks: [{ name: 'root', sizeBytes: 64 * MiB, type: 'qcow2', boot: true }],
        }),
      );
      const running = await watch.settled(created.id, 120_000);
      assert.equal(running.state, InstanceState.INSTANCE_STATE_RUNNING, running.stateReason);
      const con = new ConsoleSession(compute, created.id);
      assert.ok(await con.waitFor('HV-GUEST-READY', 120_000), `the guest booted under ${chosen.accel}: ${con.text.slice(-400)}`);
      const from = con.text.length;
      con.type('echo hv-$((6*7))\n');
      assert.ok(await con.waitFor('hv-42', 30_000, from), `the console answers: ${con.text.slice(from)}`);
      con.close();

      const mark = watch.events.length;
      await call(compute, compute.deleteInstance, { instanceId: created.id, force: false });
      await watch.until('demo DELETED', (e) => e.instance?.id === created.id && e.type === EventType.EVENT_TYPE_DELETED, 60_000, mark);
      assert.deepEqual(processesNaming(`${dataDir}/`).filter((p) => /qemu/.test(p.cmdline)), [], 'no QEMU left');
    } finally {
      watch?.close();
      cluster.close();
      compute.close();
      if (child.exitCode === null) child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(t);
    }
  });
});
