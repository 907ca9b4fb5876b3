import { mkdirSync, readFileSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { InstanceWork, WorkAction } from './protocol';
import { writeJsonAtomic } from '../shared/atomic-file';

/**
 * What this agent last did for an instance, kept on disk so a restarted
 * agent does each generation's work once: work of a generation at or below
 * the record's is done already. A destroyed instance keeps its record (a
 * tombstone) so old work for it, redelivered, does not bring it back.
 */
export interface LocalRecord {
  readonly instanceId: string;
  /** control-plane: work from the control plane; local: made through this agent's own AgentService. */
  readonly origin: 'control-plane' | 'local';
  readonly generation: number;
  readonly position: number;
  readonly action: WorkAction;
  readonly appliedAt: string;
  readonly destroyed: boolean;
  /** The instance as the work described it. */
  readonly work: Omit<InstanceWork, 'action' | 'generation' | 'position' | 'force' | 'timeoutSeconds'>;
  readonly createdAt: string;
  /** Ends of its process the restart policy acted on since this generation's work (src/agent/restart-policy.ts). */
  readonly crashes?: readonly { at: number; run: string }[];
}

export class LocalStore {
  private readonly dir: string;
  private readonly cache = new Map<string, LocalRecord>();

  constructor(stateDir: string) {
    this.dir = path.join(stateDir, 'records');
    mkdirSync(this.dir, { recursive: true });
  }

  /** Reads every record once at start. */
  async load(): Promise<void> {
    for (const f of await readdir(this.dir)) {
      if (!f.endsWith('.json')) continue;
      try {
        const r = JSON.parse(readFileSync(path.join(this.dir, f), 'utf8')) as LocalRecord;
        this.cache.set(r.instanceId, r);
      } catch {
        // A torn write cannot happen (rename), but a hand-edited file can: ignore it.
      }
    }
  }

  get(id: string): LocalRecord | undefined {
    return this.cache.get(id);
  }

  all(): LocalRecord[] {
    return [...this.cache.values()];
  }

  /** Every instance this agent holds (not destroyed). */
  live(): LocalRecord[] {
    return this.all().filter((r) => !r.destroyed);
  }

  put(r: LocalRecord): void {
    const file = path.join(this.dir, `${r.instanceId}.json`);
    writeJsonAtomic(file, r);
    this.cache.set(r.instanceId, r);
  }

  /** What this work did, done: written after its report, so a crash in between repeats both (each idempotent). */
  recordWork(w: InstanceWork, origin: LocalRecord['origin'], destroyed: boolean): void {
    const prev = this.get(w.instanceId);
    const { action, generation, position, force: _f, timeoutSeconds: _t, ...work } = w;
    this.put({
      instanceId: w.instanceId,
      origin: prev?.origin ?? origin,
      generation,
      position,
      action,
      appliedAt: new Date().toISOString(),
      destroyed,
      work,
      createdAt: prev?.createdAt ?? new Date().toISOString(),
    });
  }

  /** A tombstone for an instance removed outside of work (the reconcile, AgentService). */
  tombstone(id: string): void {
    const rec = this.get(id);
    if (rec) this.put({ ...rec, destroyed: true, appliedAt: new Date().toISOString() });
  }

  /** The ends of its process the restart policy acted on. */
  noteCrashes(id: string, crashes: readonly { at: number; run: string }[]): void {
    const rec = this.get(id);
    if (rec) this.put({ ...rec, crashes });
  }

  /** Drops tombstones older than maxAgeMs; answers the records it dropped. */
  async forgetTombstones(maxAgeMs: number, now = Date.now()): Promise<LocalRecord[]> {
    const gone: LocalRecord[] = [];
    for (const r of this.all()) {
      if (!r.destroyed || now - Date.parse(r.appliedAt) < maxAgeMs) continue;
      this.cache.delete(r.instanceId);
      await rm(path.join(this.dir, `${r.instanceId}.json`), { force: true });
      gone.push(r);
    }
    return gone;
  }
}
