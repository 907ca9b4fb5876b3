import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { SupervisedNatsServer } from '../../src/nats/supervised-nats-server';
import { NetnsHosts } from '../support/netns-hosts';
import { NpmStart } from '../support/npm-start';
import { alive } from '../support/our-processes';
import { until } from '../support/until';

/**
 * Issue 19, item 2: whatever a user or a service manager signals (npm, the
 * node process, the process group), the server stops gracefully and nothing of
 * it keeps running. Each case runs `npm start` on the real default ports in a
 * namespace host and ends when nothing at all runs in that namespace.
 */
describe('stopping npm start stops everything it started', function () {
  this.timeout(180_000);
  let lab: NetnsHosts;
  let run: NpmStart | undefined;
  before(async () => {
    lab = await NetnsHosts.create(1);
  });
  afterEach(async () => {
    await run?.cleanup();
    run = undefined;
  });
  after(async () => {
    await lab?.cleanup();
  });

  /** npm start with TCG (no half-minute KVM probe), serving with its agent; the server's pid from the log. */
  const started = async (): Promise<NpmStart> => {
    run = NpmStart.spawn(lab.hosts[0], [], { HV_QEMU_ACCEL: 'tcg' });
    await run.waitFor(/hypervisor-agent ready/);
    return run;
  };

  const stoppedGracefully = (r: NpmStart) => {
    const msgs = r.lines().map((l) => l.msg);
    assert.ok(msgs.includes('shutting down'), r.log);
    assert.ok(msgs.includes('stopped'), `a graceful stop, not a timeout or a crash:\n${r.log}`);
  };

  it('SIGTERM to npm (what a supervisor that started `npm start` sends)', async () => {
    const r = await started();
    const natsPid = r.processes().find((p) => /nats-server/.test(p.cmdline))!.pid;
    process.kill(r.pgid, 'SIGTERM');
    await r.ended();
    stoppedGracefully(r);
    assert.equal(alive(natsPid), false);
  });

  it('SIGTERM to the node process', async () => {
    const r = await started();
    const node = r.nodePid();
    assert.ok(node, JSON.stringify(r.processes()));
    process.kill(node, 'SIGTERM');
    await r.ended();
    stoppedGracefully(r);
  });

  it('SIGTERM to the process group (systemd, docker stop, a supervisor killing the group)', async () => {
    const r = await started();
    process.kill(-r.pgid, 'SIGTERM');
    await r.ended();
    stoppedGracefully(r);
    // nats-server is in a group of its own: the server stopped it last, so it was never started again.
    assert.ok(!/embedded nats-server ended/.test(r.log), r.log);
  });

  it('SIGINT to the process group (Ctrl-C on a terminal)', async () => {
    const r = await started();
    process.kill(-r.pgid, 'SIGINT');
    await r.ended();
    stoppedGracefully(r);
  });

  it('SIGTERM while the embedded agent is still starting (the default accelerator probe) stops it too', async () => {
    run = NpmStart.spawn(lab.hosts[0]);
    await run.waitFor(/hypervisor-server serving/);
    assert.ok(!/hypervisor-agent ready/.test(run.log), 'signalled before the agent was ready');
    process.kill(-run.pgid, 'SIGTERM');
    await run.ended();
    stoppedGracefully(run);
  });
});

describe('the embedded nats-server supervisor during a shutdown', function () {
  this.timeout(30_000);
  const dirs = [mkdtempSync(path.join(os.tmpdir(), 'hv-supervisor-')), mkdtempSync(path.join(os.tmpdir(), 'hv-supervisor-'))];
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('does not start nats-server again once the shutdown has begun (one that is not shutting down does)', async () => {
    const log = pino({ level: 'silent' });
    const [stopping, control] = [await SupervisedNatsServer.start({ dataDir: dirs[0] }, log, { backoffMs: 10 }), await SupervisedNatsServer.start({ dataDir: dirs[1] }, log, { backoffMs: 10 })];
    try {
      const [a, b] = [stopping.pid!, control.pid!];
      stopping.stopSupervising();
      process.kill(a, 'SIGTERM');
      process.kill(b, 'SIGTERM');
      // The control, killed at the same moment with the same backoff, is back: time enough for a restart.
      await until('the control nats-server started again', () => control.restarts === 1 && control.pid !== b && alive(control.pid!));
      assert.equal(alive(a), false);
      assert.equal(stopping.restarts, 0);
      assert.equal(stopping.pid, a);
    } finally {
      await stopping.stop();
      await control.stop();
    }
  });
});
