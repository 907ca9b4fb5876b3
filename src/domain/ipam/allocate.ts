import { AlreadyExists, InvalidArgument } from '../../errors';
import { formatAddress, parseAddress } from './address';
import { contains } from './cidr';
import { type Pool, specialAddress, type SubnetLayout } from './pools';
import type { SortedMap } from './sorted-map';

/** The addresses in use, as a sorted set (values are whatever the caller keeps per address). */
export type Taken = SortedMap<bigint, unknown>;

/**
 * The lowest free address of one pool. Never enumerates the pool: it walks
 * the taken addresses from the pool's start, and inside each sorted run it
 * finds where consecutive addresses stop by binary search (in a run of
 * distinct sorted addresses, `key[j] - key[start] === j - start` holds
 * exactly up to the first gap). A densely used /16 or /64 costs a few
 * comparisons per run, not one per address.
 */
export const firstFreeIn = (pool: Pool, taken: Taken): bigint | undefined => {
  let cand = pool.start;
  for (const { keys, start } of taken.runs(cand)) {
    if (keys[start] !== cand) break; // the next taken address is above cand: cand is free
    const n = keys.length - 1;
    if (keys[n] - cand === BigInt(n - start)) {
      cand = keys[n] + 1n; // the rest of this run is contiguous; the next run decides
    } else {
      let lo = start; // keys[lo] - cand === lo - start
      let hi = n; // keys[hi] - cand > hi - start
      while (hi - lo > 1) {
        const mid = (lo + hi) >>> 1;
        if (keys[mid] - cand === BigInt(mid - start)) lo = mid;
        else hi = mid;
      }
      cand = keys[lo] + 1n; // keys[lo + 1] is above it
      break;
    }
    if (cand > pool.end) return undefined;
  }
  return cand <= pool.end ? cand : undefined;
};

/** The lowest free address over pools in order, or undefined when every pool is full. */
export const firstFree = (pools: readonly Pool[], taken: Taken): bigint | undefined => {
  for (const p of pools) {
    const v = firstFreeIn(p, taken);
    if (v !== undefined) return v;
  }
  return undefined;
};

/**
 * As firstFree, passing over `skip` too: addresses the subnet names for
 * something else (its DNS servers) are not handed out automatically, though
 * one may still be asked for by name (the DNS server's own port).
 */
export const firstFreeExcept = (pools: readonly Pool[], taken: Taken, skip: ReadonlySet<bigint>): bigint | undefined => {
  for (const p of pools) {
    let v = firstFreeIn(p, taken);
    while (v !== undefined && skip.has(v)) v = v < p.end ? firstFreeIn({ ...p, start: v + 1n }, taken) : undefined;
    if (v !== undefined) return v;
  }
  return undefined;
};

export interface RequestOptions {
  /** Field name for messages, e.g. `ip_address`. */
  readonly field: string;
  /** How messages name the subnet, e.g. `subnet s-1 (10.0.0.0/24)`. */
  readonly subnet: string;
  /** Only a router interface may take the gateway address. */
  readonly allowGateway: boolean;
}

/**
 * Checks a requested address. As in Neutron, an address may be asked for
 * anywhere in the subnet, also outside the pools (pools only bound automatic
 * allocation; fixed addresses and the router's gateway address live outside
 * them). Refusals:
 * - INVALID_ARGUMENT: not an address, the wrong family, outside the subnet, or
 *   the network/broadcast address (never allocatable, whatever the state);
 * - ALREADY_EXISTS: allocated already, or the gateway (held for the router).
 */
export const checkRequested = (layout: SubnetLayout, taken: Taken, text: string, o: RequestOptions): bigint => {
  const { cidr } = layout;
  const { value } = parseAddress(o.field, text, cidr.version);
  const shown = formatAddress(cidr.version, value);
  if (!contains(cidr, cidr.version, value)) throw new InvalidArgument(`${o.field}: ${shown} is outside ${o.subnet}`);
  const special = specialAddress(cidr, value);
  if (special) throw new InvalidArgument(`${o.field}: ${shown} is the ${special} of ${o.subnet} and is never allocated`);
  if (taken.has(value)) throw new AlreadyExists(`${o.field}: ${shown} is already allocated in ${o.subnet}`);
  if (value === layout.gateway && !o.allowGateway)
    throw new AlreadyExists(`${o.field}: ${shown} is the gateway of ${o.subnet}; only a router interface takes it`);
  return value;
};
