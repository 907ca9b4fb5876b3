import assert from 'node:assert/strict';
import { allDirs, controllerDir, parseBlkioServiceBytes, parseCgroupMounts, parseFlatKeyed, parseIoStat } from './cgroups';

// /proc/self/mounts of the two layouts the driver meets.
const HYBRID = `tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0
cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0
cgroup /sys/fs/cgroup/cpuacct cgroup rw,relatime,cpuacct 0 0
cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0
cgroup /sys/fs/cgroup/blkio cgroup rw,nosuid,nodev,noexec,relatime,blkio 0 0
cgroup /sys/fs/cgroup/systemd cgroup rw,relatime,xattr,name=systemd 0 0
cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0`;
const V2 = `proc /proc proc rw 0 0
cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime,nsdelegate 0 0`;
const COMOUNTED = `cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,nosuid,cpu,cpuacct 0 0`;

describe('cgroup layout and files', () => {
  it('hybrid: v1 controllers, a v2 mount without controllers', () => {
    const l = parseCgroupMounts(HYBRID);
    assert.deepEqual([...l.v1.keys()].sort(), ['blkio', 'cpu', 'cpuacct', 'memory']);
    assert.equal(l.v2, '/sys/fs/cgroup/unified');
    assert.deepEqual(controllerDir(l, 'memory', '/hv/c1'), { dir: '/sys/fs/cgroup/memory/hv/c1', version: 1 });
    assert.equal(controllerDir(l, 'io', '/hv/c1'), undefined);
    assert.ok(allDirs(l, '/hv/c1').includes('/sys/fs/cgroup/unified/hv/c1'));
    assert.ok(allDirs(l, '/hv/c1').includes('/sys/fs/cgroup/systemd/hv/c1'), 'named hierarchies too');
  });
  it('pure v2: every controller in one tree', () => {
    const l = parseCgroupMounts(V2, () => ['cpu', 'io', 'memory', 'pids']);
    assert.equal(l.v1.size, 0);
    assert.deepEqual(controllerDir(l, 'memory', '/hv/c1'), { dir: '/sys/fs/cgroup/hv/c1', version: 2 });
    assert.deepEqual(allDirs(l, '/hv/c1'), ['/sys/fs/cgroup/hv/c1']);
  });
  it('comounted v1 controllers share a mount point', () => {
    const l = parseCgroupMounts(COMOUNTED);
    assert.equal(l.v1.get('cpu'), '/sys/fs/cgroup/cpu,cpuacct');
    assert.equal(l.v1.get('cpuacct'), '/sys/fs/cgroup/cpu,cpuacct');
  });
  it('reads v1 and v2 IO counters, summed over devices', () => {
    assert.deepEqual(parseBlkioServiceBytes('254:0 Read 4096\n254:0 Write 8192\n254:0 Sync 1\n8:0 Read 10\nTotal 12298\n'), { read: 4106, write: 8192 });
    assert.deepEqual(parseIoStat('254:0 rbytes=4096 wbytes=8192 rios=1 wios=2\n8:0 rbytes=10 wbytes=0\n'), { read: 4106, write: 8192 });
  });
  it('reads key value files', () => {
    const m = parseFlatKeyed('oom_kill_disable 0\nunder_oom 0\noom_kill 2\n');
    assert.equal(m.get('oom_kill'), 2);
  });
});
