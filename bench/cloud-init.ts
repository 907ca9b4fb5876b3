import { spawn, execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { call } from '../test/support/control-plane';
import { ConsoleSession } from '../test/support/compute';
import { ImageServer } from '../test/support/image-server';
import { DataplaneLab } from '../test/dataplane/support';
import { CLOUD_IMAGE, cloudImageDir, cloudVm, TestKey } from '../test/cloud-init/support';

/**
 * A cloud image's first boot (issue 23), in one run on one namespace host:
 *  - ours: CreateInstance answered → the guest's cloud-init finished (its "finished at"
 *    line on the console) and → its phone-home shown by the API (state_reason);
 *  - the floor: the same image (a qcow2 overlay of the same file) booted by hand with
 *    qemu-system-x86_64, the same firmware, size and accelerator, and the SAME seed ISO
 *    the agent made, on a user-mode NIC whose 169.254.169.254:80 leads to a local HTTP
 *    server that takes the phone-home as ours does.
 * Both run one after the other, never together (two cores shared with others).
 */
const MiB = 2 ** 20;
const FINISHED = /Cloud-init v\. \S+ finished at/;
const RUNS = Number(process.env.BENCH_RUNS ?? 2);
/** BENCH_ACCEL=kvm where /dev/kvm works: ours and the floor then both run on KVM (`-cpu host`, as the agent's args.ts). */
const ACCEL = process.env.BENCH_ACCEL === 'kvm' ? 'kvm' : 'tcg';

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

const handBoot = async (image: string, seed: string, mac: string, memMiB: number): Promise<{ finished: number; phoned: number }> => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hv-bench-hand-'));
  let phonedAt = 0;
  const sink = http.createServer((req, res) => {
    req.resume();
    if (req.method === 'POST') phonedAt ||= Date.now();
    res.end('ok\n');
  });
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  const port = (sink.address() as AddressInfo).port;
  try {
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', image, '-F', 'qcow2', path.join(dir, 'root.qcow2'), String(3 * 1024 * MiB)]);
    copyFileSync('/usr/share/OVMF/OVMF_VARS_4M.fd', path.join(dir, 'vars.fd'));
    const serial = path.join(dir, 'serial.log');
    const t0 = Date.now();
    const q = spawn('qemu-system-x86_64', [
      '-nodefaults', '-no-user-config', '-machine', 'q35', '-accel', ACCEL, ...(ACCEL === 'kvm' ? ['-cpu', 'host'] : []), '-smp', '1', '-m', `${memMiB}M`, '-display', 'none',
      '-drive', 'if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd',
      '-drive', `if=pflash,format=raw,unit=1,file=${path.join(dir, 'vars.fd')}`,
      '-drive', `file=${path.join(dir, 'root.qcow2')},format=qcow2,if=none,id=disk0`, '-device', 'virtio-blk-pci,drive=disk0,bootindex=0',
      '-drive', `file=${seed},format=raw,if=none,id=seed,readonly=on`, '-device', 'virtio-blk-pci,drive=seed',
      // The guest's own net is 169.254.0.0/16 so that 169.254.169.254:80 can be forwarded to the sink, a
      // connection of its own each (a chardev's single connection, made at launch, would be idle-closed by then).
      '-netdev', `user,id=n0,net=169.254.0.0/16,guestfwd=tcp:169.254.169.254:80-cmd:busybox nc 127.0.0.1 ${port}`, '-device', `virtio-net-pci,netdev=n0,mac=${mac}`,
      '-serial', `file:${serial}`,
    ], { stdio: 'ignore' });
    let finished = 0;
    const deadline = Date.now() + 900_000;
    while ((!finished || !phonedAt) && Date.now() < deadline) {
      const out = existsSync(serial) ? readFileSync(serial, 'utf8') : '';
      // Under TCG on a loaded host the guest kernel's IO-APIC timer check fails now and then: that boot is the emulator's, not a figure.
      if (/Kernel panic/.test(out)) {
        q.kill('SIGKILL');
        throw new PanicError(out.slice(-300));
      }
      if (!finished && FINISHED.test(out)) finished = Date.now();
      await new Promise((r) => setTimeout(r, 200));
    }
    q.kill('SIGKILL');
    if (!finished || !phonedAt) throw new Error(`the hand-booted guest did not finish: ${readFileSync(serial, 'utf8').slice(-2000)}`);
    return { finished: finished - t0, phoned: phonedAt - t0 };
  } finally {
    sink.close();
    rmSync(dir, { recursive: true, force: true });
  }
};

class PanicError extends Error {}

/** The hand boot, once more after a kernel panic of TCG's (said in the output). */
const handBootRetried = async (...a: Parameters<typeof handBoot>) => {
  try {
    return await handBoot(...a);
  } catch (e) {
    if (!(e instanceof PanicError)) throw e;
    console.error(`  … the hand-booted guest panicked under ${ACCEL.toUpperCase()} (${e.message.trim().split('\n').pop()}); booted again`);
    return handBoot(...a);
  }
};

const main = async () => {
  const imageDir = cloudImageDir();
  const t = await new DataplaneLab().start(1, { agentArgs: ['--accel', ACCEL] });
  const key = new TestKey();
  const cloud = await new ImageServer(imageDir, t.lab.rootIp).start();
  const ours: { finished: number; shown: number }[] = [];
  const floor: { finished: number; phoned: number }[] = [];
  try {
    for (let i = 0; i < RUNS; i++) {
      // A network per run: a node's DHCP port, once deleted with the node's last port on a subnet, is not made again
      // for that subnet (its id is derived from subnet and node), and the next guest there would get no DHCP.
      const { network, subnet } = await t.network(`bench-${i}`, `198.18.${73 + i}.0/24`, 1400);
      const t0 = Date.now();
      const created = await call(t.c, t.c.createInstance, cloudVm(t, cloud.url(CLOUD_IMAGE), `bench-${i}`, 0, { networkId: network.id, subnetId: subnet.id, securityGroups: [] }, {
        'hypervisor.ssh-authorized-keys': key.public,
        'hypervisor.cloud-init.user-data': '#cloud-config\nwrite_files:\n  - path: /etc/hv-bench\n    content: x\n',
      }));
      // The console answers once it runs (its output since the start is replayed).
      await t.watch.settled(created.id, 600_000);
      const con = new ConsoleSession(t.c, created.id);
      let finished = 0;
      let shown = 0;
      while (!finished || !shown) {
        if (Date.now() - t0 > 900_000) throw new Error(`bench-${i} did not finish: ${con.text.slice(-2000)}`);
        if (!finished && FINISHED.test(con.text)) finished = Date.now();
        if (!shown && /^first boot done/.test((await call(t.c, t.c.getInstance, { instanceId: created.id })).stateReason)) shown = Date.now();
        await new Promise((r) => setTimeout(r, 200));
      }
      ours.push({ finished: finished - t0, shown: shown - t0 });
      console.error(`  … run ${i}: ours finished ${secs(finished - t0)}, shown ${secs(shown - t0)}`);
      // The floor gets the very seed the agent made for this instance, booted the same way.
      const seed = path.join(t.agents[0].stateDir, 'qemu', 'instances', created.id, 'seed.iso');
      const copy = path.join(os.tmpdir(), `hv-bench-seed-${i}.iso`);
      copyFileSync(seed, copy);
      const port = (await t.net.rpc('listPorts', { instanceId: created.id, pageSize: 10 })).ports[0];
      con.close();
      await t.deleteInstance(created.id);
      try {
        floor.push(await handBootRetried(path.join(imageDir, CLOUD_IMAGE), copy, port.macAddress, 768));
        console.error(`  … run ${i}: by hand finished ${secs(floor[i].finished)}, phoned ${secs(floor[i].phoned)}`);
      } finally {
        rmSync(copy, { force: true });
      }
    }
  } finally {
    await cloud.stop();
    key.remove();
    await t.stop();
  }
  console.log(`cloud image first boot (Debian 12 cloud-style image, UEFI/OVMF, q35, 1 vCPU, 768 MiB, ${ACCEL.toUpperCase()}; one namespace host)`);
  console.log(`  CreateInstance → cloud-init finished (console)      ${ours.map((o) => secs(o.finished)).join(', ')}`);
  console.log(`  CreateInstance → first boot shown (phone-home, API)  ${ours.map((o) => secs(o.shown)).join(', ')}`);
  console.log(`  by hand, same image and seed: launch → finished     ${floor.map((o) => secs(o.finished)).join(', ')}   (floor)`);
  console.log(`  by hand, same image and seed: launch → phone-home   ${floor.map((o) => secs(o.phoned)).join(', ')}   (floor)`);
  process.exit(0);
};

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
