import { InvalidArgument, OutOfRange } from '../errors';
import type { Resources } from '../domain/resources';
import type { Resources as WireResources } from '../gen/hypervisor/v1/common';

/**
 * 64-bit proto fields are bigint on the wire (exact); the domain counts in
 * numbers, which are exact up to 2^53. The conversion happens here, at the
 * edge, and a value a number cannot hold exactly is refused rather than rounded.
 */
export const toInt64 = (n: number): bigint => BigInt(Math.trunc(n));

/** A wire int64 as a number; INVALID_ARGUMENT naming `field` beyond [min, 2^53). */
export const fromInt64 = (v: bigint, field: string, min = 0n, max = BigInt(Number.MAX_SAFE_INTEGER)): number => {
  if (v < min || v > max) throw new InvalidArgument(`${field}: ${v} is out of range [${min}, ${max}]`);
  return Number(v);
};

/** A watch's since_revision: beyond what a number holds is beyond any head, so OUT_OF_RANGE like any revision past the head. */
export const sinceRevisionFromWire = (v: bigint): number => {
  if (v < 0n) throw new InvalidArgument(`since_revision: ${v} is negative`);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new OutOfRange(`since_revision ${v} is beyond the head of the log; watch from a revision you were sent, or from 0`);
  return Number(v);
};

/** A revision or count from the log: always a safe integer, so no check is needed. */
export const revision = (n: number): bigint => BigInt(n);

export const resourcesToWire = (r: Resources): WireResources => ({
  cpuCores: r.cpuCores,
  memoryBytes: toInt64(r.memoryBytes),
  diskBytes: toInt64(r.diskBytes),
  gpuCount: r.gpuCount,
});

/** Resources from the wire (absent fields are 0); 64-bit values beyond 2^53 are refused. */
export const resourcesFromWire = (r: Partial<WireResources> | undefined, field: string): Resources => ({
  cpuCores: r?.cpuCores ?? 0,
  memoryBytes: fromInt64(r?.memoryBytes ?? 0n, `${field}.memory_bytes`, BigInt(Number.MIN_SAFE_INTEGER)),
  diskBytes: fromInt64(r?.diskBytes ?? 0n, `${field}.disk_bytes`, BigInt(Number.MIN_SAFE_INTEGER)),
  gpuCount: r?.gpuCount ?? 0,
});

const INT32_MAX = 2 ** 31 - 1;
const INT64_MAX = 2n ** 63n - 1n;

/**
 * The sum of many nodes' resources as the wire can carry it: counted exactly
 * (bigint), and held at the largest value its field has (int32 for cores and
 * GPUs, int64 for bytes) rather than overflowing, so serializing the answer
 * can never fail whatever was registered.
 */
export const resourcesSumToWire = (rs: readonly (Partial<WireResources> | undefined)[]): WireResources => {
  let cpu = 0;
  let gpu = 0;
  let mem = 0n;
  let disk = 0n;
  const pos = (v: bigint | undefined) => (v && v > 0n ? v : 0n);
  for (const r of rs) {
    cpu = Math.min(INT32_MAX, cpu + Math.max(0, r?.cpuCores ?? 0));
    gpu = Math.min(INT32_MAX, gpu + Math.max(0, r?.gpuCount ?? 0));
    mem += pos(r?.memoryBytes);
    disk += pos(r?.diskBytes);
  }
  return { cpuCores: cpu, memoryBytes: mem > INT64_MAX ? INT64_MAX : mem, diskBytes: disk > INT64_MAX ? INT64_MAX : disk, gpuCount: gpu };
};
