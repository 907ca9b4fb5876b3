import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { InstanceSpecForDriver } from '../../src/agent/drivers/driver';
import { OciDriver } from '../../src/agent/drivers/oci/oci-driver';
import { type CachedOciImage, OciImageCache } from '../../src/agent/images/oci-cache';
import { FailedPrecondition } from '../../src/errors';
import { StreamConsole } from '../support/console';
import { until } from '../support/until';
import { removeRunCgroups } from '../support/leftovers';
import { existing, mountsUnder, processesWith } from './support/host-checks';
import { LocalRegistry, LOOPBACK_ALLOWED, runToken } from './support/registry';
import { buildTestImage, type TestImage } from './support/test-image';

/** The agent's shim zygote (shim-zygote.py) answers a start; these are the starts it cannot answer itself. */
describe('oci driver: starts through the shim zygote, real runc', function () {
  this.timeout(120_000);
  const token = runToken();
  const registry = new LocalRegistry();
  let stateDir = '';
  let image: TestImage;
  let cached: CachedOciImage;
  let driver: OciDriver;
  // runc behind a wrapper that holds `runc run` while a gate file is missing: a start held inside runc.
  let gate = '';
  let blocked = '';
  const ids: string[] = [];

  const spec = (id: string, over: Partial<NonNullable<InstanceSpecForDriver['container']>> = {}): InstanceSpecForDriver => {
    ids.push(id);
    return {
      instanceId: id,
      type: 'container',
      cpuCores: 1,
      memoryBytes: 64 * 2 ** 20,
      disks: [],
      container: { rootfsPath: cached.rootfs, imageDigest: cached.digest, image: cached.config, command: [], args: [], env: {}, volumeMounts: [], hostname: id, ...over },
    };
  };

  /** This process's zygote: the python child running shim-zygote.py. */
  const zygotePid = (): number | undefined => {
    const line = execFileSync('ps', ['-eo', 'pid=,ppid=,args='], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .find((f) => Number(f[1]) === process.pid && f.some((a) => a.endsWith('shim-zygote.py')));
    return line ? Number(line[0]) : undefined;
  };

  before(async () => {
    stateDir = mkdtempSync(path.join(os.tmpdir(), `hv-zygote-${token}-`));
    gate = path.join(stateDir, 'runc-gate');
    blocked = path.join(stateDir, 'runc-blocked');
    const wrapper = path.join(stateDir, 'held-runc');
    writeFileSync(wrapper, `#!/bin/sh\nfor a in "$@"; do if [ "$a" = run ]; then touch '${blocked}'; while [ ! -f '${gate}' ]; do sleep 0.02; done; fi; done\nexec runc "$@"\n`, { mode: 0o755 });
    writeFileSync(gate, '');
    image = buildTestImage();
    await registry.start();
    registry.push(image.layout, image.tag, `${token}/busybox`, '1');
    const cache = new OciImageCache(path.join(stateDir, 'images'), LOOPBACK_ALLOWED);
    const ref = `oci://${registry.address}/${token}/busybox:1`;
    cached = await cache.ensure({ ref, url: ref });
    driver = new OciDriver({ stateDir: path.join(stateDir, 'oci'), cgroupParent: token, runcBinary: wrapper });
  });

  after(async () => {
    for (const id of ids) await driver.destroy(id).catch(() => undefined);
    await driver.close();
    removeRunCgroups(token);
    await registry.stop();
    image?.remove();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  it("a start whose zygote is killed while runc runs the container still comes up, as the shim's own files tell; the next start forks from a new zygote", async () => {
    const id = `c-orphan-${token}`;
    await driver.create(spec(id));
    rmSync(gate);
    rmSync(blocked, { force: true });
    const started = driver.start(id);
    await until('runc run is under way (held by the wrapper)', () => existsSync(blocked));
    const z = zygotePid();
    assert.ok(z, 'the driver runs a shim zygote');
    process.kill(z, 'SIGKILL');
    await until('the zygote is gone', () => zygotePid() === undefined);
    writeFileSync(gate, '');
    const o = await started;
    assert.equal(o.state, 'running');
    assert.ok(o.pid);
    const con = new StreamConsole(await driver.console(id));
    assert.match(await con.run('echo "up-$((4*5))"'), /up-20/);
    con.close();

    const next = `c-after-${token}`;
    await driver.create(spec(next));
    assert.equal((await driver.start(next)).state, 'running');
    assert.notEqual(zygotePid(), undefined);
  });

  it('a container runc cannot run fails its start with runc\'s reason (the shim ended before it ran); nothing of it runs', async () => {
    const id = `c-norun-${token}`;
    await driver.create(spec(id, { command: ['/no/such/program'] }));
    await assert.rejects(driver.start(id), (e: Error) => e instanceof FailedPrecondition && /runc run failed: .*no such file/i.test(e.message));
    assert.deepEqual(processesWith(`--id ${id}`), []);
    await driver.destroy(id);
    assert.deepEqual({ mounts: mountsUnder(path.join(stateDir, 'oci', 'instances', id)), dir: existing([path.join(stateDir, 'oci', 'instances', id)]) }, { mounts: [], dir: [] });
  });
});
