import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AlreadyExists } from '../../errors';
import { formatAddress } from './address';
import { checkRequested, firstFree } from './allocate';
import { parseCidr, usableRange } from './cidr';
import { inPools, type Pool, poolsToText, resolveLayout, type SubnetLayout } from './pools';
import { compareKeys, SortedMap } from './sorted-map';

/**
 * Random IPv4 and IPv6 subnets with random pools (placed both at the start and
 * at the far end of the address space, so IPv6 /64s are exercised where the
 * arithmetic is widest), then random sequences of allocations, requested
 * allocations and releases, checked against a plain Set model.
 */

type Op = { kind: 'alloc' } | { kind: 'request'; offset: number } | { kind: 'release'; pick: number };

const SPAN = 40; // pools live within SPAN addresses of the start or the end of the usable range

const subnetArb = fc
  .oneof(
    fc.record({ version: fc.constant(4 as const), prefix: fc.integer({ min: 16, max: 30 }), base: fc.integer({ min: 0, max: 2 ** 32 - 1 }) }),
    fc.record({ version: fc.constant(6 as const), prefix: fc.integer({ min: 48, max: 126 }), base: fc.bigInt({ min: 0n, max: 2n ** 128n - 1n }) }),
  )
  .map(({ version, prefix, base }) => {
    const bits = version === 4 ? 32 : 128;
    const hostBits = BigInt(bits - prefix);
    const network = (BigInt(base) >> hostBits) << hostBits;
    return parseCidr('cidr', `${formatAddress(version, network)}/${prefix}`);
  });

/** Cut points inside a window of the usable range, paired into disjoint pools; the gateway stays outside. */
const layoutArb = subnetArb.chain((cidr) => {
  const { first, last } = usableRange(cidr);
  const width = last - first + 1n;
  return fc
    .record({
      atEnd: fc.boolean(),
      cuts: fc.uniqueArray(fc.integer({ min: 0, max: SPAN - 1 }), { minLength: 0, maxLength: 8 }),
      gatewayOffset: fc.integer({ min: 0, max: SPAN - 1 }),
    })
    .map(({ atEnd, cuts, gatewayOffset }): SubnetLayout | undefined => {
      const window = width < BigInt(SPAN) ? width : BigInt(SPAN);
      const origin = atEnd ? last - window + 1n : first;
      const at = (o: number) => origin + (BigInt(o) % window);
      const gateway = at(gatewayOffset);
      const points = [...new Set(cuts.map(at))].filter((p) => p !== gateway).sort(compareKeys);
      const pools: Pool[] = [];
      for (let i = 0; i + 1 < points.length; i += 2) {
        const [s, e] = [points[i], points[i + 1]];
        if (gateway >= s && gateway <= e) continue;
        pools.push({ start: s, end: e });
      }
      try {
        return resolveLayout({
          cidr: cidr.text,
          gatewayIp: formatAddress(cidr.version, gateway),
          allocationPools: poolsToText(cidr.version, pools),
        });
      } catch {
        return undefined; // e.g. a /31-sized range: resolveLayout's own tests cover refusals
      }
    })
    .filter((l): l is SubnetLayout => l !== undefined);
});

const opsArb = fc.array(
  fc.oneof(
    { weight: 5, arbitrary: fc.constant<Op>({ kind: 'alloc' }) },
    { weight: 2, arbitrary: fc.integer({ min: -2, max: SPAN + 2 }).map((offset): Op => ({ kind: 'request', offset })) },
    { weight: 3, arbitrary: fc.nat().map((pick): Op => ({ kind: 'release', pick })) },
  ),
  { minLength: 10, maxLength: 300, size: 'large' },
);

/** The model's answer: a plain walk, which ends within model.size + 1 steps per pool however large the pool. */
const lowestFree = (pools: readonly Pool[], model: Set<bigint>): bigint | undefined => {
  for (const p of pools) for (let a = p.start; a <= p.end; a++) if (!model.has(a)) return a;
  return undefined;
};

describe('ipam properties', () => {
  it('never hands out an address twice or outside the pools, and always finds the lowest free one', () =>
    fc.assert(
      fc.property(layoutArb, opsArb, (layout, ops) => {
        let taken = SortedMap.empty<bigint, true>();
        const model = new Set<bigint>();
        const { first } = usableRange(layout.cidr);
        const opts = { field: 'ip_address', subnet: layout.cidr.text, allowGateway: false };
        for (const op of ops) {
          if (op.kind === 'alloc') {
            const got = firstFree(layout.pools, taken);
            const expected = lowestFree(layout.pools, model);
            assert.equal(got, expected, 'allocation must succeed exactly when a free pool address exists, with the lowest one');
            if (got === undefined) continue;
            assert.ok(inPools(layout.pools, got) && !model.has(got));
            taken = taken.set(got, true);
            model.add(got);
          } else if (op.kind === 'request') {
            const want = (layout.pools[0]?.start ?? first) + BigInt(op.offset);
            const text = formatAddress(layout.cidr.version, want);
            let got: bigint | undefined;
            try {
              got = checkRequested(layout, taken, text, opts);
            } catch (e) {
              if (e instanceof AlreadyExists) {
                assert.ok(model.has(want) || want === layout.gateway);
                continue;
              }
              continue; // INVALID_ARGUMENT: outside the subnet or a special address
            }
            assert.equal(got, want);
            assert.ok(!model.has(want) && want !== layout.gateway);
            taken = taken.set(want, true);
            model.add(want);
          } else if (model.size > 0) {
            const victim = [...model][op.pick % model.size];
            taken = taken.delete(victim);
            model.delete(victim);
          }
          assert.equal(taken.size, model.size);
        }
        assert.deepEqual([...taken.keys()], [...model].sort(compareKeys));
      }),
      { numRuns: 300 },
    ));

  it('keeps the sorted map equal to a Map model through inserts, deletes, splits and merges', () =>
    fc.assert(
      fc.property(
        // Inserts, then mostly deletes, then inserts again: chunks split, shrink and merge.
        fc.tuple(
          fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 600, maxLength: 2500 }),
          fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 3000 })), { maxLength: 500 }),
          fc.array(fc.integer({ min: 0, max: 3000 }), { maxLength: 3000 }),
        ),
        ([inserts, mixed, deletes]) => {
          const ops: [boolean, number][] = [...inserts.map((k): [boolean, number] => [true, k]), ...mixed, ...deletes.map((k): [boolean, number] => [false, k])];
          let m = SortedMap.empty<number, number>();
          const model = new Map<number, number>();
          ops.forEach(([add, k], i) => {
            const before = m;
            const snapshot = [...before.entries()];
            if (add) {
              m = m.set(k, i);
              model.set(k, i);
            } else {
              m = m.delete(k);
              model.delete(k);
            }
            if (i % 500 === 0) assert.deepEqual([...before.entries()], snapshot, 'an update must not change the old map');
          });
          const sorted = [...model.entries()].sort((a, b) => a[0] - b[0]);
          assert.deepEqual([...m.entries()], sorted);
          assert.deepEqual([...SortedMap.of(m.entries()).entries()], sorted, 'entries alone rebuild the map');
          assert.equal(m.size, model.size);
          for (const [k, v] of sorted) assert.equal(m.get(k), v);
          const from = 1500;
          assert.deepEqual([...m.keys(from)], sorted.map(([k]) => k).filter((k) => k >= from));
        },
      ),
      { numRuns: 60 },
    ));
});
