import assert from 'node:assert/strict';
import { InvalidArgument } from '../../../errors';
import { buildConfig, mergeEnv, type OciSpec, processArgs, resolveUser, resourcesFor } from './bundle';

const IMAGE = { entrypoint: ['/entry'], cmd: ['serve', '--port', '80'], env: ['PATH=/bin', 'MODE=image'], workingDir: '/srv', user: '' };

// The shape of `runc spec` (runc 1.1): what buildConfig must keep.
const BASE: OciSpec = {
  ociVersion: '1.0.2-dev',
  process: {
    terminal: true,
    user: { uid: 0, gid: 0 },
    args: ['sh'],
    env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
    cwd: '/',
    capabilities: { bounding: ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'] },
    noNewPrivileges: true,
  },
  root: { path: 'rootfs', readonly: true },
  hostname: 'runc',
  mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }],
  linux: {
    resources: { devices: [{ allow: false, access: 'rwm' }] },
    namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
    maskedPaths: ['/proc/kcore'],
    readonlyPaths: ['/proc/sys'],
  },
};

const input = (over = {}) => ({
  hostname: 'web-1',
  image: IMAGE,
  command: [],
  args: [],
  env: {},
  user: { uid: 0, gid: 0 },
  volumes: [],
  cgroupsPath: '/hv/i-1',
  cpu: { quota: 50_000, period: 100_000 },
  memory: { limit: 64 * 2 ** 20, swap: 64 * 2 ** 20 },
  tty: true,
  ...over,
});

describe('OCI bundle config', () => {
  describe('the process, Kubernetes-style', () => {
    for (const [what, command, args, want] of [
      ['neither: entrypoint + cmd', [], [], ['/entry', 'serve', '--port', '80']],
      ['args: entrypoint + args', [], ['debug'], ['/entry', 'debug']],
      ['command: replaces entrypoint, drops cmd', ['/bin/sh'], [], ['/bin/sh']],
      ['both', ['/bin/sh'], ['-c', 'true'], ['/bin/sh', '-c', 'true']],
    ] as const)
      it(what, () => assert.deepEqual(processArgs(IMAGE, [...command], [...args]), want));
    it('an image with nothing to run and no command is refused, naming spec.command', () =>
      assert.throws(() => processArgs({ ...IMAGE, entrypoint: [], cmd: [] }, [], []), (e: Error) => e instanceof InvalidArgument && /^spec.command/.test(e.message)));
  });

  it('env: runtime defaults < image < spec, by variable', () =>
    assert.deepEqual(mergeEnv(['PATH=/usr/bin', 'TERM=xterm'], ['PATH=/bin', 'MODE=image'], ['MODE=spec', 'X=1']), ['PATH=/bin', 'TERM=xterm', 'MODE=spec', 'X=1']));

  it("keeps runc's defaults and changes only what the instance asks for", () => {
    const c = buildConfig(BASE, input({ env: { MODE: 'spec' }, volumes: [{ source: '/state/volumes/data', destination: '/data', readOnly: true }] }));
    assert.deepEqual(c.process.args, ['/entry', 'serve', '--port', '80']);
    assert.deepEqual(c.process.env, ['PATH=/bin', 'TERM=xterm', 'MODE=spec', 'HOSTNAME=web-1']);
    assert.equal(c.process.cwd, '/srv');
    assert.deepEqual(c.process.capabilities, BASE.process.capabilities);
    assert.equal(c.process.noNewPrivileges, true);
    assert.deepEqual(c.root, { path: 'rootfs', readonly: false });
    assert.equal(c.hostname, 'web-1');
    assert.deepEqual(c.linux.maskedPaths, ['/proc/kcore']);
    assert.deepEqual(c.linux.readonlyPaths, ['/proc/sys']);
    assert.deepEqual(c.linux.namespaces.map((n) => n.type).sort(), ['ipc', 'mount', 'network', 'pid', 'uts']);
    assert.deepEqual(c.mounts[1], { destination: '/data', type: 'bind', source: '/state/volumes/data', options: ['rbind', 'nosuid', 'nodev', 'ro'] });
    assert.deepEqual(c.linux.resources, {
      devices: [{ allow: false, access: 'rwm' }],
      cpu: { quota: 50_000, period: 100_000 },
      memory: { limit: 64 * 2 ** 20, swap: 64 * 2 ** 20 },
    });
    assert.equal(c.linux.cgroupsPath, '/hv/i-1');
    assert.deepEqual(BASE.root, { path: 'rootfs', readonly: true }, 'the base is not changed');
  });

  it('a tty: process.terminal; without one no terminal and no TERM from runc', () => {
    const t = buildConfig(BASE, input());
    assert.equal(t.process.terminal, true);
    assert.ok(t.process.env.includes('TERM=xterm'));
    const p = buildConfig(BASE, input({ tty: false }));
    assert.equal(p.process.terminal, false);
    assert.deepEqual(p.process.env, ['PATH=/bin', 'MODE=image', 'HOSTNAME=web-1']);
  });

  it('IO throttles name the disk; a network namespace made beforehand is joined', () => {
    const c = buildConfig(BASE, input({ io: { major: 254, minor: 0, readBps: 1000, writeBps: 0 }, netnsPath: '/run/netns/x' }));
    assert.deepEqual((c.linux.resources as { blockIO: unknown }).blockIO, { throttleReadBpsDevice: [{ major: 254, minor: 0, rate: 1000 }] });
    assert.deepEqual(c.linux.namespaces.find((n) => n.type === 'network'), { type: 'network', path: '/run/netns/x' });
  });

  it('limits default from cpu_cores and memory_bytes; memory_swap is memory plus swap', () => {
    assert.deepEqual(resourcesFor(2, 128, undefined), { cpu: { quota: 200_000, period: 100_000 }, memory: { limit: 128, swap: 128 } });
    assert.deepEqual(resourcesFor(2, 128, { cpuQuota: 0, cpuPeriod: 50_000, memoryLimit: 64, memorySwap: 96 }), { cpu: { quota: 100_000, period: 50_000 }, memory: { limit: 64, swap: 96 } });
    assert.deepEqual(resourcesFor(1, 128, { cpuQuota: 30_000, cpuPeriod: 0, memoryLimit: 0, memorySwap: 0 }).cpu, { quota: 30_000, period: 100_000 });
  });

  it("resolves the image's user by number or through its passwd and group", () => {
    const passwd = 'root:x:0:0::/:/bin/sh\napp:x:1000:1001::/:/bin/sh\n';
    const group = 'root:x:0:\nstaff:x:50:\n';
    assert.deepEqual(resolveUser('', passwd, group), { uid: 0, gid: 0 });
    assert.deepEqual(resolveUser('app', passwd, group), { uid: 1000, gid: 1001 });
    assert.deepEqual(resolveUser('1000', passwd, group), { uid: 1000, gid: 1001 });
    assert.deepEqual(resolveUser('app:staff', passwd, group), { uid: 1000, gid: 50 });
    assert.deepEqual(resolveUser('7:8', '', ''), { uid: 7, gid: 8 });
    assert.throws(() => resolveUser('ghost', passwd, group), /user "ghost"/);
  });
});
