import type { HostRunner } from '../run';

/** One forwarding entry of a VXLAN device: where frames for `mac` go (all zeros = flood: broadcast, unknown unicast, multicast). */
export interface FdbEntry {
  readonly mac: string;
  readonly dst: string;
}

export const FLOOD_MAC = '00:00:00:00:00:00';
const key = (e: FdbEntry) => `${e.mac}>${e.dst}`;

/** The VXLAN forwarding table (`bridge fdb`), kept equal to what the plan says: l2population's flood and unicast entries. */
export class Fdb {
  constructor(private readonly run: HostRunner) {}

  /** Entries with a remote destination on the device (the bridge's own local entries are not ours). */
  async list(dev: string): Promise<FdbEntry[]> {
    const text = await this.run.run('bridge', ['-json', 'fdb', 'show', 'dev', dev]);
    const raw = text.trim() ? (JSON.parse(text) as { mac: string; dst?: string }[]) : [];
    return raw.filter((r) => r.dst).map((r) => ({ mac: r.mac.toLowerCase(), dst: r.dst! }));
  }

  /** Adds what is missing and removes what is not wanted. */
  async converge(dev: string, want: readonly FdbEntry[]): Promise<void> {
    const have = await this.list(dev);
    const wanted = new Set(want.map(key));
    const present = new Set(have.map(key));
    for (const e of have) if (!wanted.has(key(e))) await this.run.run('bridge', ['fdb', 'del', e.mac, 'dev', dev, 'dst', e.dst], { okIf: /No such file/ });
    for (const e of want) {
      if (present.has(key(e))) continue;
      // append: one MAC (the flood one) may have several destinations.
      await this.run.run('bridge', ['fdb', 'append', e.mac, 'dev', dev, 'dst', e.dst, 'self', 'permanent'], { okIf: /File exists/ });
    }
  }
}
