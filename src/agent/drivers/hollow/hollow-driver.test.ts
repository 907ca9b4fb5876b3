import assert from 'node:assert/strict';
import { FailedPrecondition, NotFound } from '../../../errors';
import { waitForOutput } from '../qemu/console';
import { HollowDriver } from './hollow-driver';

const spec = (id: string) => ({ instanceId: id, type: 'vm' as const, cpuCores: 2, memoryBytes: 512 * 1024 * 1024, disks: [] });

describe('hollow driver', () => {
  it('goes through the same lifecycle as a real one, in memory', async () => {
    const d = new HollowDriver();
    await d.create(spec('a'));
    await d.create(spec('a'));
    assert.equal((await d.inspect('a'))?.state, 'stopped');
    const started = await d.start('a');
    assert.equal(started.state, 'running');
    assert.equal((await d.start('a')).pid, started.pid);

    const con = await d.console('a', { replay: true });
    await waitForOutput(con, 'HV-GUEST-READY', 1_000);
    const answered = waitForOutput(con, /^hv-42\r?$/m, 1_000);
    con.write('echo hv-$((6*7))\n');
    await answered;

    const s = await d.stats('a');
    assert.ok(s.cpuTimeNs > 0 && s.memoryUsedBytes > 0);

    d.crash('a', 'simulated');
    assert.deepEqual(await d.inspect('a'), { instanceId: 'a', state: 'crashed', reason: 'simulated', startedAt: started.startedAt });
    await assert.rejects(d.stats('a'), FailedPrecondition);
    await d.start('a');
    await d.stop('a', { graceMs: 10, force: true });
    assert.equal((await d.inspect('a'))?.state, 'stopped');
    assert.deepEqual((await d.list()).map((o) => o.instanceId), ['a']);
    await d.destroy('a');
    await d.destroy('a');
    assert.equal(await d.inspect('a'), undefined);
    await assert.rejects(d.start('a'), NotFound);
  });

  it('holds thousands of instances cheaply', async () => {
    const d = new HollowDriver();
    for (let i = 0; i < 5_000; i++) {
      await d.create(spec(`i-${i}`));
      await d.start(`i-${i}`);
    }
    assert.equal((await d.list()).filter((o) => o.state === 'running').length, 5_000);
  });
});
