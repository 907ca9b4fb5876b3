import type { Upcaster } from './upcaster';

/**
 * NodeRegistered and NodeReregistered v1 carried the agent's endpoint as one
 * `address` string ("10.0.0.11:50052", "[fd00::11]:50052"), as the first
 * agents reported it. v2 splits it into `ip` and `port`, the fields of the
 * Node message, so nothing downstream parses addresses.
 */
export const splitAddress = (data: unknown): unknown => {
  const d = data as Record<string, unknown>;
  // Events that already carry ip and port (written before the version bump
  // by code that had the new shape) pass through unchanged.
  if (typeof d.address !== 'string') return d;
  const { address, ...rest } = d;
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(address) ?? /^([^:]+):(\d+)$/.exec(address);
  // An address without a port keeps the ip; port 0 is what v1 meant by "unknown".
  return m ? { ...rest, ip: m[1], port: Number(m[2]) } : { ...rest, ip: address, port: 0 };
};

export const nodeUpcasters: readonly Upcaster[] = ['NodeRegistered', 'NodeReregistered'].map((type) => ({
  aggregateType: 'node',
  type,
  from: 1,
  change: 'address "ip:port" split into ip and port',
  up: splitAddress,
}));
