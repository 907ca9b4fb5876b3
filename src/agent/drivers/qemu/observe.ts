import type { Observed } from '../driver';
import { TCG_SETTING } from './accel';
import { QMP_TIMEOUT_MS, type Connections } from './connections';
import type { ExitRecord, InstanceDir, RunRecord } from './state-dir';

type State = Pick<Observed, 'state' | 'reason'>;

/** What a live QEMU is doing, from QMP query-status. */
export async function liveState(conns: Connections, dir: InstanceDir, run: RunRecord): Promise<State> {
  let status: { status: string };
  try {
    const m = await conns.monitor(dir, run.pid);
    status = await m.execute<{ status: string }>('query-status', undefined, { timeoutMs: QMP_TIMEOUT_MS });
  } catch (e) {
    // The process runs; only its monitor is out of reach (maybe held by another driver).
    return { state: 'running', reason: `QMP unreachable: ${(e as Error).message}` };
  }
  switch (status.status) {
    case 'running':
      return { state: 'running' };
    case 'paused':
      return { state: 'paused' };
    case 'internal-error':
      return { state: 'crashed', reason: await internalErrorReason(dir, run) };
    case 'io-error':
    case 'guest-panicked':
    case 'watchdog':
      return { state: 'crashed', reason: `guest is stopped in state ${status.status} (log: ${dir.logFile})` };
    case 'shutdown':
      return { state: 'running', reason: 'shutting down' };
    default:
      // prelaunch, inmigrate, suspended, ...: not executing guest code
      return { state: 'paused', reason: status.status };
  }
}

/**
 * An internal error under KVM is the host's KVM failing the guest (a nested kvm-pvm stops
 * Linux at `lock cmpxchg16b`), not the guest's fault: say so, and what avoids it.
 */
async function internalErrorReason(dir: InstanceDir, run: RunRecord): Promise<string> {
  const said = await dir.logLine(/KVM internal error/i);
  if (run.accel !== 'kvm') return `guest is stopped in state internal-error under ${run.accel.toUpperCase()}${said ? `: ${said}` : ''} (log: ${dir.logFile})`;
  return (
    `guest is stopped in state internal-error under KVM${said ? ` (${said})` : ''}: this host's KVM does not run this guest; ` +
    `run the agent with ${TCG_SETTING} (log: ${dir.logFile})`
  );
}

/** A QEMU under KVM that died saying something of KVM: the host's KVM, most likely; say what avoids it. */
export const kvmHint = (accel: string, line: string | undefined): string =>
  accel === 'kvm' && line && /kvm/i.test(line) ? `; this host's KVM fails this guest: run the agent with ${TCG_SETTING}` : '';

/** How a run that is no longer alive ended, from what the driver recorded and QEMU logged. */
export async function endedState(dir: InstanceDir, run: RunRecord): Promise<State> {
  const exit = await dir.readExit();
  const fromShutdown = describeShutdown(exit);
  if (await dir.stopRequested()) {
    const how = exit?.signal === 'SIGKILL' ? 'killed' : fromShutdown?.reason;
    return { state: 'stopped', reason: `stopped by request${how ? `: ${how}` : ''}` };
  }
  if (fromShutdown) return fromShutdown;
  const line = await dir.lastLogLine();
  const tail = `${line ? `; qemu said: ${line}` : ''}${kvmHint(run.accel, line)} (log: ${dir.logFile})`;
  if (exit?.signal) return { state: 'crashed', reason: `qemu (pid ${run.pid}) was killed by ${exit.signal}${tail}` };
  if (exit?.code !== undefined && exit.code !== null && exit.code !== 0) {
    return { state: 'crashed', reason: `qemu (pid ${run.pid}) exited with code ${exit.code}${tail}` };
  }
  if (exit?.code === 0) return { state: 'stopped', reason: 'qemu exited' };
  return { state: 'crashed', reason: `qemu (pid ${run.pid}) is gone and no driver saw it end${tail}` };
}

function describeShutdown(exit: ExitRecord | undefined): State | undefined {
  switch (exit?.shutdownReason) {
    case 'guest-shutdown':
      return { state: 'stopped', reason: 'the guest powered off' };
    case 'guest-reset':
      return { state: 'stopped', reason: 'the guest rebooted (qemu runs with -no-reboot)' };
    case 'host-qmp-quit':
    case 'host-qmp-system-reset':
      return { state: 'stopped', reason: 'quit over QMP' };
    case 'guest-panic':
      return { state: 'crashed', reason: 'the guest kernel panicked' };
    case 'host-signal':
      return { state: 'crashed', reason: `qemu was ended by a signal from the host${exit.signal ? ` (${exit.signal})` : ''}` };
    default:
      return undefined;
  }
}
