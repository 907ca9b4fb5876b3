import { InvalidArgument } from '../../errors';
import { formatAddress, type IpVersion, parseAddress } from './address';
import { type Cidr, contains, parseCidr, usableRange } from './cidr';

/** An inclusive range of addresses that automatic allocation draws from. */
export interface Pool {
  readonly start: bigint;
  readonly end: bigint;
}

/** A pool as the API and the events carry it. */
export interface PoolText {
  readonly start: string;
  readonly end: string;
}

/** Where a subnet's addresses go: its network, gateway and allocation pools (sorted, disjoint). */
export interface SubnetLayout {
  readonly cidr: Cidr;
  readonly gateway: bigint;
  readonly pools: readonly Pool[];
}

export interface LayoutRequest {
  readonly cidr: string;
  /** Empty: the first usable address. */
  readonly gatewayIp: string;
  /** Empty: every usable address but the gateway. */
  readonly allocationPools: readonly PoolText[];
}

export const MAX_POOLS = 64;

/**
 * Checks a subnet's CIDR, gateway and pools and fills in what was left out,
 * as Neutron does: no gateway → the first usable address; no pools → every
 * usable address but the gateway. Pools must lie in the usable range (never
 * the network or IPv4 broadcast address), must not overlap, and must not
 * hold the gateway.
 */
export const resolveLayout = (req: LayoutRequest): SubnetLayout => {
  const cidr = parseCidr('cidr', req.cidr);
  const usable = usableRange(cidr);
  if (usable.last <= usable.first)
    throw new InvalidArgument(
      `cidr: ${cidr.text} is too small; a subnet needs a gateway and at least one more address (at most /30 for IPv4, /126 for IPv6)`,
    );
  const gateway = req.gatewayIp ? checkGateway(cidr, req.gatewayIp) : usable.first;
  const pools =
    req.allocationPools.length > 0 ? checkPools(cidr, gateway, req.allocationPools) : defaultPools(cidr, gateway);
  return { cidr, gateway, pools };
};

const checkGateway = (cidr: Cidr, text: string): bigint => {
  const { value } = parseAddress('gateway_ip', text, cidr.version);
  const shown = formatAddress(cidr.version, value);
  if (!contains(cidr, cidr.version, value)) throw new InvalidArgument(`gateway_ip: ${shown} is outside ${cidr.text}`);
  const special = specialAddress(cidr, value);
  if (special) throw new InvalidArgument(`gateway_ip: ${shown} is the ${special} of ${cidr.text}`);
  return value;
};

/** Names the address if the subnet never hands it out. */
export const specialAddress = (cidr: Cidr, value: bigint): string | undefined => {
  if (value === cidr.first) return cidr.version === 4 ? 'network address' : 'subnet-router anycast address';
  if (cidr.version === 4 && value === cidr.last) return 'broadcast address';
  return undefined;
};

export const defaultPools = (cidr: Cidr, gateway: bigint): Pool[] => {
  const { first, last } = usableRange(cidr);
  const pools: Pool[] = [];
  if (gateway > first) pools.push({ start: first, end: gateway - 1n });
  if (gateway < last) pools.push({ start: gateway < first ? first : gateway + 1n, end: last });
  return pools;
};

const checkPools = (cidr: Cidr, gateway: bigint, given: readonly PoolText[]): Pool[] => {
  if (given.length > MAX_POOLS)
    throw new InvalidArgument(`allocation_pools: ${given.length} pools, at most ${MAX_POOLS}`);
  const usable = usableRange(cidr);
  const fmt = (v: bigint) => formatAddress(cidr.version, v);
  const pools = given.map((p, i): Pool & { i: number } => {
    const field = `allocation_pools[${i}]`;
    const start = parseAddress(`${field}.start`, p.start, cidr.version).value;
    const end = parseAddress(`${field}.end`, p.end, cidr.version).value;
    if (start > end) throw new InvalidArgument(`${field}: start ${fmt(start)} is after end ${fmt(end)}`);
    if (start < usable.first || end > usable.last)
      throw new InvalidArgument(
        `${field}: ${fmt(start)}-${fmt(end)} is not inside the usable addresses of ${cidr.text} (${fmt(usable.first)}-${fmt(usable.last)})`,
      );
    if (gateway >= start && gateway <= end)
      throw new InvalidArgument(`gateway_ip: ${fmt(gateway)} is inside ${field} (${fmt(start)}-${fmt(end)}); the gateway must be outside the pools`);
    return { start, end, i };
  });
  pools.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  for (let k = 1; k < pools.length; k++) {
    const [a, b] = [pools[k - 1], pools[k]];
    if (b.start <= a.end)
      throw new InvalidArgument(
        `allocation_pools[${b.i}]: ${fmt(b.start)}-${fmt(b.end)} overlaps allocation_pools[${a.i}] (${fmt(a.start)}-${fmt(a.end)})`,
      );
  }
  return pools.map(({ start, end }) => ({ start, end }));
};

export const poolsToText = (version: IpVersion, pools: readonly Pool[]): PoolText[] =>
  pools.map((p) => ({ start: formatAddress(version, p.start), end: formatAddress(version, p.end) }));

/** Pools from an event, already checked when it was decided. */
export const poolsFromText = (version: IpVersion, pools: readonly PoolText[]): Pool[] =>
  pools.map((p) => ({
    start: parseAddress('allocation_pools.start', p.start, version).value,
    end: parseAddress('allocation_pools.end', p.end, version).value,
  }));

/** Whether a (sorted, disjoint) pool list holds the address. */
export const inPools = (pools: readonly Pool[], value: bigint): boolean => {
  let lo = 0;
  let hi = pools.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (value < pools[mid].start) hi = mid - 1;
    else if (value > pools[mid].end) lo = mid + 1;
    else return true;
  }
  return false;
};

export const poolsSize = (pools: readonly Pool[]): bigint => pools.reduce((n, p) => n + (p.end - p.start + 1n), 0n);
