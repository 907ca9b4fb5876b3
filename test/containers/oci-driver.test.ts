import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { InstanceSpecForDriver } from '../../src/agent/drivers/driver';
import { readCpuLimit, readMemoryLimit } from '../../src/agent/drivers/oci/cgroups';
import { OciDriver } from '../../src/agent/drivers/oci/oci-driver';
import { type CachedOciImage, OciImageCache } from '../../src/agent/images/oci-cache';
import { FailedPrecondition, InvalidArgument, PermissionDenied } from '../../src/errors';
import { fetchPolicy } from '../../src/images/fetch';
import { inspectManifest } from '../../src/images/oci/skopeo';
import { parseOciRef } from '../../src/domain/oci-reference';
import { StreamConsole } from '../support/console';
import { existing, mountsUnder, processesWith } from './support/host-checks';
import { filesUnder, LocalRegistry, LOOPBACK_ALLOWED, runToken } from './support/registry';
import { buildTestImage, type TestImage } from './support/test-image';
import { removeRunCgroups } from '../support/leftovers';

const MiB = 2 ** 20;

describe('oci driver: real runc, a local registry, the busybox test image', function () {
  this.timeout(120_000);
  const token = runToken();
  const registry = new LocalRegistry();
  // Made in before(), so loading the file creates nothing.
  let stateDir = '';
  let image: TestImage;
  let cache: OciImageCache;
  let cached: CachedOciImage;
  let ref: string;
  const drivers: OciDriver[] = [];
  const ids: string[] = [];
  const newDriver = () => {
    const d = new OciDriver({ stateDir: path.join(stateDir, 'oci'), cgroupParent: token });
    drivers.push(d);
    return d;
  };
  let driver: OciDriver;

  const spec = (id: string, over: Partial<NonNullable<InstanceSpecForDriver['container']>> = {}, top: Partial<InstanceSpecForDriver> = {}): InstanceSpecForDriver => {
    ids.push(id);
    return {
      instanceId: id,
      type: 'container',
      cpuCores: 1,
      memoryBytes: 64 * MiB,
      disks: [],
      container: {
        rootfsPath: cached.rootfs,
        imageDigest: cached.digest,
        image: cached.config,
        command: [],
        args: [],
        env: {},
        volumeMounts: [],
        hostname: id,
        ...over,
      },
      ...top,
    };
  };

  const leftovers = (d: OciDriver, id: string) => ({
    processes: processesWith(path.join(stateDir, 'oci', 'instances', id)),
    mounts: mountsUnder(path.join(stateDir, 'oci', 'instances', id)),
    cgroups: existing(d.cgroupDirs(id)),
    dir: existing([path.join(stateDir, 'oci', 'instances', id)]),
  });
  const nothing = { processes: [], mounts: [], cgroups: [], dir: [] };

  before(async () => {
    stateDir = mkdtempSync(path.join(os.tmpdir(), `hv-oci-${token}-`));
    image = buildTestImage();
    await registry.start();
    registry.push(image.layout, image.tag, `${token}/busybox`, '1');
    ref = `oci://${registry.address}/${token}/busybox:1`;
    cache = new OciImageCache(path.join(stateDir, 'images'), LOOPBACK_ALLOWED);
    driver = newDriver();
    const probe = await driver.probe();
    assert.deepEqual(probe, { ok: true });
  });

  after(async () => {
    const d = new OciDriver({ stateDir: path.join(stateDir, 'oci'), cgroupParent: token });
    for (const id of ids) await d.destroy(id).catch(() => undefined);
    // Each driver that started a container has a shim zygote running.
    for (const x of [...drivers, d]) await x.close();
    removeRunCgroups(token);
    await registry.stop();
    image?.remove();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  it('pulls an image into the cache once, by its manifest digest, and shares the copy', async () => {
    cached = await cache.ensure({ ref, url: ref });
    assert.equal(cached.fetched, true);
    assert.match(cached.digest, /^sha256:[0-9a-f]{64}$/);
    assert.ok(readdirSync(path.join(cached.rootfs, 'bin')).includes('sh'));
    assert.deepEqual(cached.config.cmd, ['/bin/sh']);
    const again = await cache.ensure({ ref, url: ref, sha256: cached.digest.slice(7) });
    assert.equal(again.fetched, false);
    assert.equal(again.rootfs, cached.rootfs);
  });

  it('unpacks layers in order, whiteouts applied', async () => {
    registry.push(image.layout, 'layered', `${token}/busybox`, 'layered');
    const layeredRef = `oci://${registry.address}/${token}/busybox:layered`;
    const m = await inspectManifest(parseOciRef('x', layeredRef), LOOPBACK_ALLOWED);
    assert.equal(m.layers.length, 2);
    const got = await cache.ensure({ ref: layeredRef, url: layeredRef });
    const etc = readdirSync(path.join(got.rootfs, 'etc'));
    assert.ok(etc.includes('hv-second-layer'), etc.join(','));
    assert.ok(!etc.includes('hv-first-layer'), 'the whiteout removed the first layer\'s file');
    assert.ok(!etc.some((n) => n.startsWith('.wh.')), 'no whiteout file is left in the rootfs');
    assert.ok(readdirSync(path.join(cached.rootfs, 'etc')).includes('hv-first-layer'), 'the one-layer image still has it');
  });

  it('runs a container with the spec overriding the image: console, env, hostname, stats; stop, start, restart, delete leave nothing', async () => {
    const id = `c-life-${token}`;
    await driver.create(spec(id, { env: { HV_FROM_IMAGE: 'spec', HV_EXTRA: 'x1' } }));
    await driver.create(spec(id, { env: { HV_FROM_IMAGE: 'spec', HV_EXTRA: 'x1' } })); // same spec again: no-op
    const o = await driver.start(id);
    assert.equal(o.state, 'running');
    assert.ok(o.pid && o.pid > 0);
    assert.equal((await driver.start(id)).pid, o.pid, 'start of a running container changes nothing');
    const con = new StreamConsole(await driver.console(id, { replay: true }));
    let out = await con.run('echo "v=$HV_FROM_IMAGE e=$HV_EXTRA h=$(hostname) p=$$"');
    assert.match(out, /v=spec e=x1/, out);
    assert.match(out, new RegExp(`h=${id}`));
    assert.match(out, /p=1\b/, 'the shell is PID 1 of its own PID namespace');
    // Resize reaches the pty.
    (con.stream as { resize?: (w: number, h: number) => void }).resize!(132, 43);
    out = await con.run('stty size');
    assert.match(out, /43 132/);
    // Runtime defaults: /proc/sys read-only, no network but loopback, no capabilities beyond runc's.
    out = await con.run('echo 1 > /proc/sys/kernel/domainname 2>&1; ls /sys/class/net; grep CapEff /proc/self/status');
    assert.match(out, /Read-only file system/);
    assert.match(out, /^lo\s*$/m);
    assert.match(out, /CapEff:\s+0000000020000420/);
    await con.run('dd if=/dev/zero of=/tmp/f bs=1M count=4 2>/dev/null; i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done');
    const s = await driver.stats(id);
    assert.ok(s.cpuTimeNs > 0, `cpu ${s.cpuTimeNs}`);
    assert.ok(s.memoryUsedBytes + s.memoryCacheBytes > 0, `memory ${s.memoryUsedBytes}/${s.memoryCacheBytes}`);
    con.close();

    await driver.stop(id, { graceMs: 1_000, force: true }); // sh as PID 1 ignores SIGTERM: killed after the grace
    assert.equal((await driver.inspect(id))?.state, 'stopped');
    assert.match((await driver.inspect(id))!.reason!, /stopped by request/);
    assert.deepEqual(processesWith(`/proc/${o.pid}`), []);
    const o2 = await driver.start(id);
    assert.notEqual(o2.pid, o.pid);
    const con2 = new StreamConsole(await driver.console(id));
    // The writable layer outlives a stop: the file written before is still there.
    assert.match(await con2.run('ls -l /tmp/f'), /4194304/);
    con2.close();
    await driver.stop(id, { graceMs: 0, force: true });
    await driver.stop(id, { graceMs: 0, force: true });
    await driver.destroy(id);
    await driver.destroy(id);
    assert.deepEqual(leftovers(driver, id), nothing);
    assert.equal(await driver.inspect(id), undefined);
  });

  it('a process that exits ends the container: code 0 is stopped, another code is crashed', async () => {
    const ok = `c-exit0-${token}`;
    const bad = `c-exit3-${token}`;
    await driver.create(spec(ok, { command: ['/bin/true'] }));
    await driver.create(spec(bad, { command: ['/bin/sh'], args: ['-c', 'exit 3'] }));
    for (const id of [ok, bad]) await driver.start(id).catch(() => undefined);
    const settled = async (id: string) => {
      for (let i = 0; i < 200; i++) {
        const o = await driver.inspect(id);
        if (o && o.state !== 'running') return o;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`${id} still runs`);
    };
    assert.deepEqual(await settled(ok).then((o) => [o.state, o.reason]), ['stopped', "the container's process exited with code 0"]);
    assert.deepEqual(await settled(bad).then((o) => [o.state, o.reason]), ['crashed', "the container's process exited with code 3"]);
    for (const id of [ok, bad]) await driver.destroy(id);
  });

  it('limits: the cgroup has the CPU quota and memory limit asked for; over 32 MiB the OOM killer ends it, and the reason says OOM', async () => {
    const cpu = `c-cpu-${token}`;
    await driver.create(spec(cpu, { limits: { cpuQuota: 25_000, cpuPeriod: 50_000, memoryLimit: 48 * MiB, memorySwap: 0, ioReadBps: 0, ioWriteBps: 0 } }));
    await driver.start(cpu);
    assert.deepEqual(await readCpuLimit(driver.cgroups(), driver.cgroupPath(cpu)), { quota: 25_000, period: 50_000 });
    assert.equal(await readMemoryLimit(driver.cgroups(), driver.cgroupPath(cpu)), 48 * MiB);
    await driver.destroy(cpu);

    const dflt = `c-cpu-default-${token}`;
    await driver.create(spec(dflt, {}, { cpuCores: 2 }));
    await driver.start(dflt);
    // No limits given: cpu_cores x the default 100 ms period, memory_bytes.
    assert.deepEqual(await readCpuLimit(driver.cgroups(), driver.cgroupPath(dflt)), { quota: 200_000, period: 100_000 });
    assert.equal(await readMemoryLimit(driver.cgroups(), driver.cgroupPath(dflt)), 64 * MiB);
    await driver.destroy(dflt);

    const oom = `c-oom-${token}`;
    // dd's buffer is bs bytes, all touched: 64 MiB in a 32 MiB cgroup.
    await driver.create(spec(oom, { command: ['dd'], args: ['if=/dev/zero', 'of=/dev/null', 'bs=64M', 'count=4'], limits: { cpuQuota: 0, cpuPeriod: 0, memoryLimit: 32 * MiB, memorySwap: 0, ioReadBps: 0, ioWriteBps: 0 } }));
    await driver.start(oom).catch(() => undefined);
    let o;
    for (let i = 0; i < 400; i++) {
      o = await driver.inspect(oom);
      if (o?.state !== 'running') break;
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.equal(o?.state, 'crashed', JSON.stringify(o));
    assert.match(o!.reason!, /^OOM: .*32 MiB/);
    await driver.destroy(oom);
  });

  it('IO limits land in the cgroup as throttles of the disk under the state dir', async () => {
    const id = `c-io-${token}`;
    await driver.create(spec(id, { limits: { cpuQuota: 0, cpuPeriod: 0, memoryLimit: 0, memorySwap: 0, ioReadBps: 1_048_576, ioWriteBps: 2_097_152 } }));
    await driver.start(id);
    const blkio = driver.cgroups().v1.get('blkio');
    const f = blkio ? path.join(blkio, driver.cgroupPath(id), 'blkio.throttle.write_bps_device') : path.join(driver.cgroups().v2!, driver.cgroupPath(id), 'io.max');
    assert.match(readFileSync(f, 'utf8'), /2097152/);
    await driver.destroy(id);
  });

  it('volumes: what one container writes the next one reads; read_only refuses writes; a volume outlives its containers', async () => {
    const w = `c-volw-${token}`;
    await driver.create(spec(w, { volumeMounts: [{ name: `v-${token}`, mountPath: '/data', readOnly: false }] }));
    await driver.start(w);
    let con = new StreamConsole(await driver.console(w));
    await con.run('echo hello-volume > /data/note');
    con.close();
    await driver.destroy(w);

    const r = `c-volr-${token}`;
    await driver.create(spec(r, { volumeMounts: [{ name: `v-${token}`, mountPath: '/data', readOnly: true }] }));
    await driver.start(r);
    con = new StreamConsole(await driver.console(r));
    assert.match(await con.run('cat /data/note'), /hello-volume/);
    assert.match(await con.run('echo x > /data/other 2>&1'), /Read-only file system/);
    con.close();
    await driver.destroy(r);
    assert.equal(readFileSync(path.join(stateDir, 'oci', 'volumes', `v-${token}`, 'note'), 'utf8'), 'hello-volume\n');

    for (const name of ['..', '../x', 'a/b', '.hidden'])
      await assert.rejects(driver.create(spec(`c-volbad-${token}`, { volumeMounts: [{ name, mountPath: '/data', readOnly: false }] })), InvalidArgument);
  });

  it('a new driver (the agent restarted) adopts a running container: state, console, stop', async () => {
    const id = `c-adopt-${token}`;
    await driver.create(spec(id));
    const o = await driver.start(id);
    const con = new StreamConsole(await driver.console(id));
    await con.run('export MARK=before-restart');
    con.close();
    const fresh = newDriver();
    const seen = await fresh.inspect(id);
    assert.equal(seen?.state, 'running');
    assert.equal(seen?.pid, o.pid);
    assert.ok((await fresh.list()).some((x) => x.instanceId === id && x.state === 'running'));
    // The same shell, still holding what was typed into it before.
    const con2 = new StreamConsole(await fresh.console(id, { replay: true }));
    assert.match(await con2.run('echo "m=$MARK"'), /m=before-restart/);
    assert.match(con2.text, /export MARK=before-restart/, 'replay shows the output from before the restart');
    con2.close();
    await fresh.destroy(id);
    assert.deepEqual(leftovers(fresh, id), nothing);
  });

  it('destroy ends the shim even when its pid file is gone (an agent killed right after spawning it)', async () => {
    const id = `c-nopid-${token}`;
    await driver.create(spec(id));
    await driver.start(id);
    rmSync(path.join(stateDir, 'oci', 'instances', id, 'shim.pid'));
    assert.equal(processesWith(`--id ${id}`).filter((l) => l.includes('console-shim.py')).length, 1);
    await driver.destroy(id);
    assert.deepEqual(leftovers(driver, id), nothing);
  });

  it('a digest mismatch from the registry fails the pull and leaves nothing in the cache', async () => {
    const m = await inspectManifest(parseOciRef('x', ref), LOOPBACK_ALLOWED);
    const restore = registry.corruptBlob(m.layers[0].digest);
    const dir = mkdtempSync(path.join(os.tmpdir(), `hv-oci-cache-${token}-`));
    try {
      const fresh = new OciImageCache(dir, LOOPBACK_ALLOWED);
      await assert.rejects(fresh.ensure({ ref, url: ref }), (e: Error) => e instanceof FailedPrecondition && /digest mismatch/i.test(e.message));
      assert.equal(await fresh.has(m.digest), false);
      // Only the (empty) scratch dir: no layout, no rootfs, no entry under the digest.
      assert.deepEqual(filesUnder(dir), [path.join(dir, '.tmp')]);
    } finally {
      restore();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the image fetch policy holds for registries: loopback refused unless allowed, an image over the size limit refused; nothing cached', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), `hv-oci-cache-${token}-`));
    try {
      await assert.rejects(new OciImageCache(dir, fetchPolicy()).ensure({ ref, url: ref }), (e: Error) => e instanceof PermissionDenied && /--image-allow-cidr/.test(e.message));
      await assert.rejects(
        new OciImageCache(dir, fetchPolicy({ imageAllowCidrs: ['127.0.0.0/8'], imageMaxBytes: 1000 })).ensure({ ref, url: ref }),
        (e: Error) => e instanceof InvalidArgument && /more than the 1000 allowed/.test(e.message),
      );
      assert.deepEqual(filesUnder(dir), [path.join(dir, '.tmp')]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses what it cannot run before making anything', async () => {
    await assert.rejects(driver.create({ ...spec(`c-vm-${token}`), type: 'vm' }), InvalidArgument);
    await assert.rejects(driver.create(spec('../escape')), InvalidArgument);
    const noCmd = `c-nocmd-${token}`;
    await driver.create(spec(noCmd, { image: { ...cached.config, cmd: [], entrypoint: [] } }));
    await assert.rejects(driver.start(noCmd), /give spec.command/);
    await driver.destroy(noCmd);
    assert.deepEqual(leftovers(driver, noCmd), nothing);
  });
});
