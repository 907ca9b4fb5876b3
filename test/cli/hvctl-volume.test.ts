import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { Agent } from '../../src/agent/agent';
import { StorageServiceClient, Volume } from '../../src/gen/hypervisor/v1/storage';
import { removeStateDir, startAgent } from '../support/agent';
import { call, TestControlPlane } from '../support/control-plane';
import { hvctl } from '../support/hvctl';

describe('hvctl volume and snapshot (the built CLI, a real server, an agent with the qemu driver making the files)', function () {
  this.timeout(90_000);
  const t = new TestControlPlane();
  let agent: Agent;
  const hv = (...args: string[]) => hvctl(['--server', t.address, ...args]);
  const json = async (...args: string[]) => {
    const r = await hv(...args, '-o', 'json');
    assert.equal(r.code, 0, `hvctl ${args.join(' ')}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  };

  before(async () => {
    await t.start();
    agent = await startAgent(t, { hostname: 'hvctl-vol' });
  });
  after(async () => {
    await agent?.stop();
    await t.stop();
    if (agent) removeStateDir(agent);
  });

  it('create --wait, list, get: the file is made on the node and the volume is AVAILABLE', async () => {
    const v = await json('volume', 'create', 'disk1', '--size', '32MiB', '--label', 'team=a', '--wait');
    assert.deepEqual([v.name, v.status, v.sizeBytes, v.nodeId, v.metadata.labels], ['disk1', 'VOLUME_STATUS_AVAILABLE', String(32 * 2 ** 20), agent.nodeId, { team: 'a' }]);
    assert.ok(existsSync(agent.storage!.pool.volumePath(v.id)));
    const s = t.client(StorageServiceClient);
    assert.deepEqual(await json('volume', 'get', 'disk1'), Volume.toJSON(await call(s, s.getVolume, { volumeId: v.id })));
    const table = await hv('volume', 'list');
    assert.match(table.stdout.split('\n')[0], /^NAME\s+ID\s+SIZE\s+STATUS\s+TYPE\s+NODE\s+INSTANCE\s+DEVICE\s+ENCRYPTED\s+AGE$/);
    assert.match(table.stdout, new RegExp(`disk1\\s+${v.id}\\s+32MiB\\s+AVAILABLE`));
  });

  it('resize --wait grows; a smaller size exits 3 (INVALID_ARGUMENT) naming the field', async () => {
    const v = await json('volume', 'resize', 'disk1', '--size', '48MiB', '--wait');
    assert.deepEqual([v.status, v.sizeBytes], ['VOLUME_STATUS_AVAILABLE', String(48 * 2 ** 20)]);
    const r = await hv('volume', 'resize', 'disk1', '--size', '1MiB');
    assert.equal(r.code, 3);
    assert.match(r.stderr, /new_size_bytes: .* volumes only grow/);
  });

  it('snapshot create --wait, a volume from it, update, delete --wait', async () => {
    const snap = await json('snapshot', 'create', 'snap1', '--volume', 'disk1', '--wait');
    assert.deepEqual([snap.status, snap.progressPercent], ['SNAPSHOT_STATUS_AVAILABLE', 100]);
    const copy = await json('volume', 'create', 'copy1', '--from-snapshot', 'snap1', '--wait');
    assert.deepEqual([copy.status, copy.sizeBytes, copy.sourceSnapshotId], ['VOLUME_STATUS_AVAILABLE', String(48 * 2 ** 20), snap.id]);
    const u = await json('volume', 'update', 'copy1', '--iops', '200', '--name', 'copy2');
    assert.deepEqual([u.name, u.iopsLimit], ['copy2', '200']);
    assert.equal((await hv('snapshot', 'delete', 'snap1', '--wait')).code, 0);
    assert.equal(existsSync(agent.storage!.pool.snapshotPath(snap.id)), false);
    assert.equal((await hv('volume', 'delete', 'copy2', '--wait')).code, 0);
    assert.equal(existsSync(agent.storage!.pool.volumePath(copy.id)), false);
  });

  it('a --wait-timeout that is not a whole number exits 3 naming it, and nothing is created', async () => {
    const r = await hv('volume', 'create', 'never', '--size', '1MiB', '--wait', '--wait-timeout', 'soon');
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /--wait-timeout: "soon" is not a whole number/);
    assert.ok(!(await json('volume', 'list')).some((v: { name: string }) => v.name === 'never'));
  });

  it('attach to an instance that does not exist exits 5 (NOT_FOUND); detach of an unattached volume exits 9', async () => {
    const r = await hv('volume', 'attach', 'disk1', '00000000-0000-4000-8000-000000000000');
    assert.equal(r.code, 5, r.stderr);
    assert.equal((await hv('volume', 'detach', 'disk1')).code, 9);
  });
});
