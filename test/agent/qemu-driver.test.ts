import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { promisify } from 'node:util';
import type { InstanceSpecForDriver, Observed } from '../../src/agent/drivers/driver';
import { runTinyGuest } from '../../src/agent/drivers/qemu/accel';
import { ConsoleTimeout, waitForOutput } from '../../src/agent/drivers/qemu/console';
import { isAlive } from '../../src/shared/process';
import { QemuDriver } from '../../src/agent/drivers/qemu/qemu-driver';
import { FailedPrecondition, InvalidArgument, NotFound } from '../../src/errors';
import { until } from '../support/until';

const repo = path.resolve(__dirname, '../../..');
const READY = 'HV-GUEST-READY';
/** About one microvm boot in 23 printed nothing for minutes on this machine: never wait on a guest without a deadline. */
const BOOT_DEADLINE_MS = 30_000;
const ANSWER_DEADLINE_MS = 15_000;

describe('qemu driver: real QEMU under TCG with the test guest', function () {
  this.timeout(120_000);
  let guest: string;
  let stateDir: string;
  const drivers: QemuDriver[] = [];

  const newDriver = () => {
    const d = new QemuDriver({ stateDir, accel: 'tcg' });
    drivers.push(d);
    return d;
  };

  const spec = (id: string, type: 'vm' | 'microvm'): InstanceSpecForDriver => ({
    instanceId: id,
    type,
    cpuCores: 1,
    memoryBytes: 256 * 1024 * 1024,
    kernelPath: path.join(guest, 'vmlinuz'),
    initrdPath: path.join(guest, 'initramfs.cpio.gz'),
    kernelArgs: 'console=ttyS0 panic=-1',
    disks: [{ name: 'root', baseImagePath: path.join(guest, 'disk.raw'), sizeBytes: 32 * 1024 * 1024, boot: true }],
  });

  /** Starts the instance and waits for the guest's ready marker; one more boot if the guest stays silent. */
  async function boot(driver: QemuDriver, id: string): Promise<{ observed: Observed; con: Duplex }> {
    for (let attempt = 1; ; attempt++) {
      const observed = await driver.start(id);
      const con = await driver.console(id, { replay: true });
      try {
        await waitForOutput(con, READY, BOOT_DEADLINE_MS);
        return { observed, con };
      } catch (e) {
        con.destroy();
        if (!(e instanceof ConsoleTimeout) || attempt === 2) throw e;
        console.warn(`      ${id}: the guest printed no ${READY} within ${BOOT_DEADLINE_MS} ms (a known TCG boot hang); booting it once more`);
        await driver.stop(id, { graceMs: 0, force: true });
      }
    }
  }

  /** Types a command and waits for a whole line of its output. */
  async function run(con: Duplex, command: string, expectLine: string): Promise<string> {
    const answered = waitForOutput(con, new RegExp(`^${expectLine.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\r?$`, 'm'), ANSWER_DEADLINE_MS);
    con.write(command + '\n');
    return answered;
  }

  before(async function () {
    // Cached after the first run; the first may apt-get install on a fresh machine.
    this.timeout(600_000);
    const out = execFileSync('bash', [path.join(repo, 'scripts/build-test-guest.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    guest = out.trim().split('\n').at(-1)!;
    for (const f of ['vmlinuz', 'initramfs.cpio.gz', 'disk.raw']) assert.ok(existsSync(path.join(guest, f)), `${guest}/${f} was built`);
    stateDir = mkdtempSync(path.join(os.tmpdir(), 'hv-qemu-'));
  });

  after(async function () {
    this.timeout(60_000);
    for (const d of drivers) await d.close();
    if (!stateDir) return;
    // Whatever a failed test left: destroy through a driver, then kill anything still
    // running from this state dir, then remove it.
    const sweeper = new QemuDriver({ stateDir, accel: 'tcg' });
    for (const o of await sweeper.list().catch(() => [])) await sweeper.destroy(o.instanceId).catch(() => undefined);
    await sweeper.close();
    for (const pid of qemuPidsUnder(stateDir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('the KVM probe\'s tiny firmware really runs (checked under TCG)', async () => {
    assert.equal((await runTinyGuest('qemu-system-x86_64', 'tcg', 10_000)).ok, true);
  });

  it('probe() is ok with TCG configured', async () => {
    assert.deepEqual(await newDriver().probe(), { ok: true });
  });

  it('refuses a spec QEMU could not run before making any file of it', async () => {
    const driver = newDriver();
    await assert.rejects(driver.create({ ...spec('bad-1', 'vm'), type: 'container' }), InvalidArgument);
    await assert.rejects(driver.create({ ...spec('bad-2', 'microvm'), kernelPath: undefined, initrdPath: undefined }), /kernelPath is required/);
    await assert.rejects(driver.create({ ...spec('bad-3', 'vm'), disks: [{ name: 'root', sizeBytes: 1, boot: true }, { name: 'root', sizeBytes: 1, boot: false }] }), /twice/);
    await assert.rejects(driver.create(spec('../escape', 'vm')), InvalidArgument);
    for (const id of ['bad-1', 'bad-2', 'bad-3']) assert.ok(!existsSync(path.join(stateDir, 'instances', id)), id);
    assert.deepEqual(await driver.list(), []);
  });

  for (const type of ['vm', 'microvm'] as const) {
    it(`${type}: create, start, console answers, stats, graceful stop, start again, destroy leaves nothing`, async () => {
      const driver = newDriver();
      const id = `life-${type}`;
      await driver.create(spec(id, type));
      await driver.create(spec(id, type)); // idempotent
      assert.deepEqual(await driver.inspect(id), { instanceId: id, state: 'stopped', reason: 'never started' });
      await assert.rejects(driver.console(id), FailedPrecondition);

      const { observed, con } = await boot(driver, id);
      assert.equal(observed.state, 'running');
      assert.ok(observed.pid && isAlive(observed.pid));
      assert.equal(processGroup(observed.pid), observed.pid, 'QEMU leads its own process group, so it outlives the agent');
      const again = await driver.start(id);
      assert.equal(again.pid, observed.pid, 'start of a running instance is a no-op');

      await run(con, 'echo hv-$((6*7))', 'hv-42');
      // The overlay was grown from the 16 MiB base to 32 MiB: 65536 sectors.
      await run(con, 'cat /sys/block/vda/size', '65536');

      // A second client at the same time: both see the output, either may type.
      const con2 = await driver.console(id);
      const seenBy1 = waitForOutput(con, /^two-2\r?$/m, ANSWER_DEADLINE_MS);
      await run(con2, 'echo two-$((1+1))', 'two-2');
      await seenBy1;
      con2.destroy();
      await run(con, 'echo still-$((2+1))', 'still-3');

      const stats = await driver.stats(id);
      assert.ok(stats.cpuTimeNs > 0, `cpu time ${stats.cpuTimeNs}`);
      assert.ok(stats.memoryUsedBytes > 0, `memory ${stats.memoryUsedBytes}`);
      assert.ok(stats.diskReadBytes > 0, `the guest kernel read its disk: ${stats.diskReadBytes}`);
      assert.ok(stats.cpuUsagePercent >= 0);
      const stats2 = await until('a later stats sample', async () => {
        const s = await driver.stats(id);
        return s.collectedAt.getTime() > stats.collectedAt.getTime() ? s : undefined;
      });
      assert.ok(stats2.cpuTimeNs >= stats.cpuTimeNs);

      const consoleEnded = new Promise((resolve) => con.once('end', resolve).resume());
      await driver.stop(id, { graceMs: 20_000, force: false });
      await consoleEnded;
      assert.ok(!isAlive(observed.pid!), 'qemu is gone after stop');
      const stopped = await driver.inspect(id);
      assert.equal(stopped?.state, 'stopped');
      assert.match(stopped!.reason!, /stopped by request: the guest powered off/);
      await driver.stop(id, { graceMs: 1_000, force: false }); // idempotent

      const second = await boot(driver, id);
      assert.notEqual(second.observed.pid, observed.pid);
      await run(second.con, 'echo again-$((6*7))', 'again-42');

      const dir = path.join(stateDir, 'instances', id);
      assert.ok(existsSync(dir));
      await driver.destroy(id);
      assert.ok(!isAlive(second.observed.pid!), 'qemu is gone after destroy');
      assert.ok(!existsSync(dir), 'the instance dir is removed');
      assert.equal(await driver.inspect(id), undefined);
      assert.ok(!(await driver.list()).some((o) => o.instanceId === id));
      await driver.destroy(id); // idempotent
      await assert.rejects(driver.start(id), NotFound);
    });
  }

  it('reports a QEMU killed with SIGKILL as crashed, with the reason, and can start it again', async () => {
    const driver = newDriver();
    const id = 'crash';
    await driver.create(spec(id, 'microvm'));
    const { pid } = await driver.start(id);
    process.kill(pid!, 'SIGKILL');
    let crashed: Observed | undefined;
    await until('the killed QEMU seen as not running', async () => (crashed = await driver.inspect(id))?.state !== 'running', 5_000);
    assert.equal(crashed?.state, 'crashed');
    assert.match(crashed!.reason!, /killed by SIGKILL/);
    assert.ok(existsSync(path.join(stateDir, 'instances', id)), 'a crashed instance is kept until destroy');
    assert.equal((await driver.list()).find((o) => o.instanceId === id)?.state, 'crashed');

    const { con } = await boot(driver, id);
    await run(con, 'echo back-$((6*7))', 'back-42');
    await driver.destroy(id);
  });

  it('a driver in a new process adopts an instance started by an agent that has exited', async () => {
    const id = 'adopt';
    const first = newDriver();
    await first.create(spec(id, 'vm'));
    await first.close();

    // The "old agent": starts the instance, then its process exits.
    const script = `
      const { QemuDriver } = require(${JSON.stringify(path.join(repo, 'dist/src/agent/drivers/qemu/qemu-driver.js'))});
      const d = new QemuDriver({ stateDir: ${JSON.stringify(stateDir)}, accel: 'tcg' });
      d.start(${JSON.stringify(id)}).then((o) => { process.stdout.write(JSON.stringify(o)); process.exit(0); },
        (e) => { console.error(e); process.exit(1); });`;
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { timeout: 60_000 });
    const started = JSON.parse(stdout) as Observed;
    assert.ok(started.pid && isAlive(started.pid), 'qemu outlived the process that started it');

    const driver = newDriver();
    const listed = await driver.list();
    assert.deepEqual(
      listed.map((o) => [o.instanceId, o.state, o.pid]),
      [[id, 'running', started.pid]],
    );
    const inspected = await driver.inspect(id);
    assert.equal(inspected?.state, 'running');
    assert.equal(inspected?.startedAt?.toISOString(), started.startedAt);

    const con = await driver.console(id);
    // The old agent's console connection is gone; this one may have missed the marker.
    await waitForOutput(con, READY, BOOT_DEADLINE_MS).catch(() => undefined);
    await run(con, 'echo adopted-$((6*7))', 'adopted-42');
    assert.ok((await driver.stats(id)).cpuTimeNs > 0);

    await driver.stop(id, { graceMs: 20_000, force: true });
    assert.equal((await driver.inspect(id))?.state, 'stopped');
    await driver.destroy(id);
    assert.ok(!isAlive(started.pid!));
  });
});

function processGroup(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
}

/** Every process whose command line names a path under dir. */
function qemuPidsUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(dir)) pids.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}
