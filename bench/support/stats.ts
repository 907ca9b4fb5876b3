import { cpuMs } from './proc-cpu';

/** Percentile of a list of numbers (nearest rank). */
export const percentile = (xs: readonly number[], p: number): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
};

export interface RateResult {
  readonly n: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly p50ms: number;
  readonly p99ms: number;
}

/** Runs `n` calls of `fn(i)` with `concurrency` in flight; rate and latency percentiles. */
export const measure = async (n: number, concurrency: number, fn: (i: number) => Promise<unknown>): Promise<RateResult> => {
  const lat: number[] = [];
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const t0 = process.hrtime.bigint();
        await fn(i);
        lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { n, seconds, perSecond: n / seconds, p50ms: percentile(lat, 50), p99ms: percentile(lat, 99) };
};

export const fmt = (r: RateResult) =>
  `${r.perSecond.toFixed(0).padStart(7)} req/s   p50 ${r.p50ms.toFixed(2).padStart(7)} ms   p99 ${r.p99ms.toFixed(2).padStart(7)} ms   (n=${r.n})`;

/** CPU seconds (user+system) a process has used so far, from /proc. */
export const cpuSeconds = async (pid: number): Promise<number> => cpuMs(pid) / 1000;
