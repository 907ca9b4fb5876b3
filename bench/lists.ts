import { percentile } from './support/stats';
import { profiled } from './support/profile';
import { PAGE, QUERIES, world } from './support/list-world';

/**
 * ListNodes, ListInstances and ListPorts (issue 25, item 2) at 1,000 and at
 * 100,000 objects: the read models filled through their own evolve, then one
 * page of 100 asked of the service's handler (filters and label selectors,
 * first pages and pages from a cursor), interleaved across the two sizes.
 * The floor, measured in the same rounds, is encoding the same page's
 * response with ts-proto (what answering a page costs whatever the list
 * behind it). A handler's figure includes its own answer's encoding: it
 * answers with its objects' kept bytes (src/grpc/encoded-page.ts). Also
 * the heap each object costs in the read models (run with --expose-gc).
 * BENCH_CPU_PROFILE=<file> profiles the timed rounds alone.
 */
const SIZES = [1_000, Number(process.env.BENCH_OBJECTS ?? 100_000)];
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 30);

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

const main = async () => {
  if (!global.gc) console.log('(run with node --expose-gc for the heap per object)');
  const worlds = SIZES.map(world);
  for (const w of worlds)
    console.log(
      `${w.n.toLocaleString('en')} objects each: heap per object  node ${(w.perObject.node / 1024).toFixed(2)} KiB   instance ${(w.perObject.instance / 1024).toFixed(2)} KiB   port ${(w.perObject.port / 1024).toFixed(2)} KiB`,
    );
  const calls = await Promise.all(QUERIES.map((q) => Promise.all(worlds.map((w) => q.prepare(w)))));
  // [query][world] latencies, and the floor's.
  const lat = QUERIES.map(() => worlds.map(() => [] as number[]));
  const floor = QUERIES.map(() => worlds.map(() => [] as number[]));
  await profiled(process.env.BENCH_CPU_PROFILE, async () => {
    for (let r = 0; r < ROUNDS; r++)
      for (let q = 0; q < QUERIES.length; q++)
        for (let w = 0; w < worlds.length; w++) {
          let t0 = process.hrtime.bigint();
          await calls[q][w].call();
          lat[q][w].push(ms(t0));
          t0 = process.hrtime.bigint();
          calls[q][w].floor();
          floor[q][w].push(ms(t0));
        }
  });
  const [small, large] = SIZES.map((n) => n.toLocaleString('en'));
  console.log(`\npage of ${PAGE}, ${ROUNDS} rounds interleaved; p50 (p99) in ms; floor = encoding the same page's answer`);
  console.log(`${'query'.padEnd(42)} ${`at ${small}`.padStart(16)} ${`at ${large}`.padStart(16)} ${'floor'.padStart(14)}   ${large}/${small}   items`);
  QUERIES.forEach((q, i) => {
    const cell = (xs: number[]) => `${percentile(xs, 50).toFixed(3)} (${percentile(xs, 99).toFixed(2)})`.padStart(16);
    const ratio = percentile(lat[i][1], 50) / percentile(lat[i][0], 50);
    console.log(`${q.name.padEnd(42)} ${cell(lat[i][0])} ${cell(lat[i][1])} ${cell(floor[i][1]).slice(2)}   ${ratio.toFixed(2)}x   ${calls[i][0].items}/${calls[i][1].items}`);
  });
};

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
