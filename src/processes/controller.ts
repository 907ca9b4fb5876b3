import type { Logger } from 'pino';
import { KeyedWorkQueue, type ReconcileResult } from './work-queue';

interface Unsubscribable {
  unsubscribe(): void;
}

/**
 * The shape every process manager here has (controller-runtime's): sources
 * queue keys, never events; `reconcile(key)` reads the read models and
 * converges; the queue dedupes keys, backs off errors and drops a
 * TerminalError. A subclass watches its sources in `start()` (once the
 * projections caught up) and only implements `reconcile`.
 */
export abstract class Controller {
  protected readonly queue: KeyedWorkQueue;
  private readonly subs: Unsubscribable[] = [];

  /** startsPerTurn: see KeyedWorkQueue. */
  constructor(name: string, log: Logger, concurrency: number, startsPerTurn = Infinity) {
    this.queue = new KeyedWorkQueue(name, (key) => this.reconcile(key), log, concurrency, undefined, startsPerTurn);
  }

  protected abstract reconcile(key: string): Promise<ReconcileResult>;

  /** A source of keys (or an index kept next to the queue); ended by stop(). */
  protected watch(sub: Unsubscribable): void {
    this.subs.push(sub);
  }

  stop(): void {
    for (const s of this.subs.splice(0)) s.unsubscribe();
    this.queue.stop();
  }

  /** This replica lost the controller's lease: resolves once nothing of it runs any more. */
  pause(): Promise<void> {
    return this.queue.pause();
  }

  /** This replica holds the lease (again): works what was queued meanwhile. */
  resume(): void {
    this.queue.resume();
  }

  /** Resolves when nothing is queued or running (tests and benchmarks). */
  idle(): Promise<void> {
    return this.queue.idle();
  }
}
