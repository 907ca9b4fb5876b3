import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { LocalStore } from '../local-store';
import type { InstanceWork } from '../protocol';
import type { Reporter } from '../reporter';
import { notePhoneHome } from '../../sdn/metadata/server';
import { GuestRecords } from './guest-records';
import { PhoneHomeReports } from './phone-home';

/** What the metadata service writes when a guest phones home. */
const phonedHome = (g: GuestRecords, instanceId: string) => notePhoneHome(g.phoneHomeDir, instanceId, 's');

/** The control plane's side, as the agent's reporter sees it: each report, in order. */
const controlPlane = () => {
  const reported: string[] = [];
  const waiting: { n: number; resolve: () => void }[] = [];
  const reporter = {
    instance: async (instanceId: string) => {
      reported.push(instanceId);
      for (const w of waiting.filter((x) => reported.length >= x.n)) w.resolve();
    },
  } as unknown as Reporter;
  const reports = (n: number) => (reported.length >= n ? Promise.resolve() : new Promise<void>((resolve) => waiting.push({ n, resolve })));
  return { reporter, reported, reports };
};

describe("the agent's reports of guests' phone-homes", () => {
  let dir: string;
  let phoneHome: PhoneHomeReports | undefined;
  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'hv-phone-home-test-'))));
  afterEach(async () => {
    await phoneHome?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const world = () => {
    const guests = new GuestRecords(path.join(dir, 'guests'));
    const store = new LocalStore(dir);
    for (const id of ['i-1', 'i-2'])
      store.recordWork({ instanceId: id, nodeId: 'n', generation: 1, action: 'create', position: 1, name: id, kind: 'vm', annotations: {}, labels: {}, correlationId: 'c' } as unknown as InstanceWork, 'control-plane', false);
    const cp = controlPlane();
    phoneHome = new PhoneHomeReports(guests, store, cp.reporter, pino({ level: 'silent' }));
    return { guests, ...cp };
  };

  it('given a watched directory, when a guest phones home, then it is reported without waiting for the timer, once', async () => {
    const { guests, reported, reports } = world();
    // Timers far beyond the test's own timeout: only the directory's change can bring the report.
    phoneHome!.start({ pollMs: 600_000, resyncMs: 600_000 });
    phonedHome(guests, 'i-1');
    await reports(1);
    phonedHome(guests, 'i-2');
    await reports(2);
    // Ends the look under way: its marks are then made.
    await phoneHome!.stop();
    assert.deepEqual(reported, ['i-1', 'i-2']);
    assert.deepEqual(guests.phonedHome(), [], 'both marked reported');
  });

  it('given notes written while the agent was down, when it starts, then they are reported', async () => {
    const { guests, reported, reports } = world();
    phonedHome(guests, 'i-2');
    phoneHome!.start({ pollMs: 600_000, resyncMs: 600_000 });
    await reports(1);
    assert.deepEqual(reported, ['i-2']);
  });
});
