import type { ChildProcess } from 'node:child_process';
import { FailedPrecondition } from '../../../errors';
import { ConsoleMux } from './console';
import { QmpClient, type QmpEvent } from './qmp';
import type { InstanceDir } from './state-dir';

export const QMP_TIMEOUT_MS = 5_000;

/** What the driver holds in memory for a run; everything else is on disk. */
export interface Runtime {
  pid: number;
  child?: ChildProcess;
  /** Resolves when the child's exit status is on disk (only for QEMUs this driver spawned). */
  exitRecorded?: Promise<void>;
  monitor?: Promise<QmpClient>;
  console?: Promise<ConsoleMux>;
  prevCpu?: { cpuTimeNs: number; atMs: number };
}

/**
 * The driver's connections to its QEMUs: one QMP monitor and one console mux per run,
 * made on first use (also for QEMUs adopted after an agent restart), dropped when the
 * run ends. Dropping a connection never touches the QEMU.
 */
export class Connections {
  private readonly runtimes = new Map<string, Runtime>();
  private closed = false;

  constructor(private readonly consoleScrollbackBytes?: number) {}

  get(instanceId: string): Runtime | undefined {
    return this.runtimes.get(instanceId);
  }

  /** A run this driver spawned; replaces whatever it knew of an earlier one. */
  spawned(instanceId: string, rt: Runtime): void {
    this.forget(instanceId);
    this.runtimes.set(instanceId, rt);
  }

  runtime(instanceId: string, pid: number): Runtime {
    let rt = this.runtimes.get(instanceId);
    if (!rt || rt.pid !== pid) {
      if (rt) this.forget(instanceId);
      rt = { pid };
      this.runtimes.set(instanceId, rt);
    }
    return rt;
  }

  monitor(dir: InstanceDir, pid: number, timeoutMs = QMP_TIMEOUT_MS): Promise<QmpClient> {
    if (this.closed) return Promise.reject(new FailedPrecondition('the qemu driver is closed'));
    const rt = this.runtime(dir.id, pid);
    if (!rt.monitor) {
      const p = QmpClient.connect(dir.qmpSocket, { timeoutMs }).then((m) => {
        m.on('event', (ev: QmpEvent) => {
          if (ev.event !== 'SHUTDOWN') return;
          // Kept on disk at once: if the agent dies before QEMU does, the next one still knows.
          dir.mergeExit({ at: new Date().toISOString(), shutdownReason: String(ev.data?.reason ?? ''), guest: Boolean(ev.data?.guest) });
        });
        m.once('disconnect', () => {
          if (rt.monitor === p) rt.monitor = undefined;
        });
        if (this.closed || this.runtimes.get(dir.id) !== rt) m.close();
        return m;
      });
      rt.monitor = p;
      p.catch(() => {
        if (rt.monitor === p) rt.monitor = undefined;
      });
    }
    return rt.monitor;
  }

  consoleMux(dir: InstanceDir, pid: number): Promise<ConsoleMux> {
    if (this.closed) return Promise.reject(new FailedPrecondition('the qemu driver is closed'));
    const rt = this.runtime(dir.id, pid);
    if (!rt.console) {
      const p = ConsoleMux.open(dir.consoleSocket, { scrollbackBytes: this.consoleScrollbackBytes }).then((mux) => {
        mux.once('close', () => {
          if (rt.console === p) rt.console = undefined;
        });
        return mux;
      });
      rt.console = p;
      p.catch(() => {
        if (rt.console === p) rt.console = undefined;
      });
    }
    return rt.console;
  }

  /**
   * Drops the connections to an instance; the instance is not touched. `why` is what a
   * command still waiting on the monitor fails with: a caller that found the QEMU gone
   * says so, rather than that the agent closed the connection.
   */
  forget(instanceId: string, why?: string): void {
    const rt = this.runtimes.get(instanceId);
    if (!rt) return;
    this.runtimes.delete(instanceId);
    rt.monitor?.then((m) => m.close(why), () => undefined);
    rt.console?.then((c) => c.close(), () => undefined);
  }

  close(): void {
    this.closed = true;
    for (const id of [...this.runtimes.keys()]) this.forget(id);
  }
}
