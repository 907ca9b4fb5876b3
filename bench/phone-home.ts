import { mkdtempSync, rmSync, watch } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { GuestRecords } from '../src/agent/cloud-init/guest-records';
import { PhoneHomeReports } from '../src/agent/cloud-init/phone-home';
import { LocalStore } from '../src/agent/local-store';
import type { InstanceWork } from '../src/agent/protocol';
import type { Reporter } from '../src/agent/reporter';
import { notePhoneHome } from '../src/sdn/metadata/server';
import { percentile } from './support/stats';

/**
 * A guest's phone-home, from the metadata service's note (notePhoneHome) to
 * the agent's report of it (the
 * reporter's call; what the control plane then does is the command's own
 * cost). Notes come at uneven gaps (0–822 ms), one at a time. The floor, in the
 * same run, interleaved: the same write seen by an fs.watch of the directory.
 * `node dist/bench/phone-home.js`; BENCH_N notes (default 30).
 */
const N = Number(process.env.BENCH_N ?? 30);
const keepAlive = setInterval(() => undefined, 1_000);

const note = (g: GuestRecords, id: string) => notePhoneHome(g.phoneHomeDir, id, 's');
const gap = (i: number) => new Promise((r) => setTimeout(r, 137 * (i % 7)));
const ms = (xs: number[]) => `p50 ${percentile(xs, 50).toFixed(2)} ms, max ${Math.max(...xs).toFixed(2)} ms`;

const main = async () => {
  console.log(`machine: ${os.cpus().length} x ${os.cpus()[0].model}, node ${process.version}, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-phone-home-'));
  const guests = new GuestRecords(path.join(dir, 'agent'));
  const store = new LocalStore(dir);
  let reported: () => void = () => undefined;
  const reporter = { instance: async () => reported() } as unknown as Reporter;
  const reports = new PhoneHomeReports(guests, store, reporter, pino({ level: 'silent' }));
  reports.start({ pollMs: 1_000, resyncMs: 10_000 });
  const floorDir = new GuestRecords(path.join(dir, 'floor'));
  let seen: () => void = () => undefined;
  const floorWatch = watch(floorDir.phoneHomeDir, () => seen());

  const ours: number[] = [];
  const floor: number[] = [];
  for (let i = 0; i < N; i++) {
    const id = `i-${i}`;
    store.recordWork({ instanceId: id, nodeId: 'n', generation: 1, action: 'create', position: 1, name: id, kind: 'vm', annotations: {}, labels: {}, correlationId: 'c' } as unknown as InstanceWork, 'control-plane', false);
    await gap(i);
    let t0 = performance.now();
    await new Promise<void>((r) => {
      seen = r;
      note(floorDir, id);
    });
    floor.push(performance.now() - t0);
    await gap(i + 3);
    t0 = performance.now();
    await new Promise<void>((r) => {
      reported = r;
      note(guests, id);
    });
    ours.push(performance.now() - t0);
  }
  console.log(`phone-home note → the agent's report (n=${N}): ${ms(ours)}`);
  console.log(`floor: the same write → fs.watch of its directory: ${ms(floor)}`);
  floorWatch.close();
  await reports.stop();
  rmSync(dir, { recursive: true, force: true });
  clearInterval(keepAlive);
};

void main();
