import { performance } from 'node:perf_hooks';

/**
 * How long each step of a start took, for the "serving" log line: where a
 * restart's time goes (bench/restart.ts reads it), without a profiler.
 * `process` is what came before the first mark: Node's own start and loading
 * the server's modules.
 */
export class StartPhases {
  private last = performance.now();
  readonly ms: Record<string, number> = { process: Math.round(performance.now()) };

  /** The time since the previous mark, under `name`. */
  mark(name: string): void {
    const now = performance.now();
    this.ms[name] = Math.round(now - this.last);
    this.last = now;
  }
}
