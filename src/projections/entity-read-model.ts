import { createHash } from 'node:crypto';
import { Subject } from 'rxjs';
import type { Decider, DomainEvent, Evolving } from '../commands/decider';
import type { RecordedEvent } from '../eventstore/event';
import { UPCASTERS } from '../eventstore/upcasting/registry';
import type { Change } from './change';
import { ChangeHistory } from './change-history';
import { ListIndex, type TermsOf } from './list-index';
import type { ReadModel } from './read-model';
import { Later, type Snapshottable } from './snapshot';

export interface EntityReadModelOptions<S, V> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly decider: Decider<any, DomainEvent, S>;
  /** The client-facing object; undefined while the entity does not exist (not created, or deleted). */
  readonly view: (state: S) => V | undefined;
  readonly historySize?: number;
  /** Turns stored events of older schema versions into the current shape (default: UPCASTERS). */
  readonly upcast?: (e: RecordedEvent) => RecordedEvent;
  /**
   * Bump when the state's shape changes in a way the automatic fingerprint
   * (evolve's and initialState's source, the initial state's keys) cannot see,
   * e.g. a helper evolve calls: a snapshot of another version is not restored.
   */
  readonly snapshotVersion?: string;
  /** What List filters this model's objects by (see select()); none: paging by id only. */
  readonly terms?: TermsOf<V>;
}

/**
 * A read model of one aggregate type: each entity's state is folded with the
 * aggregate's own evolve (the same code the write side and audit replay use),
 * and its view is what List, Get and Watch serve.
 */
export class EntityReadModel<S, V> implements ReadModel, Snapshottable {
  readonly name: string;
  readonly aggregateType: string;
  readonly changes$ = new Subject<Change<V>>();
  private readonly states = new Map<string, S>();
  private readonly views = new Map<string, V>();
  /** When each live object last changed (its commit's time, in ms: a snapshot restores numbers, not Dates). */
  private readonly changedAt = new Map<string, number>();
  private readonly history: ChangeHistory<V>;
  private readonly index: ListIndex<V>;
  /** Last log position applied to this model. */
  position = 0;

  constructor(private readonly opts: EntityReadModelOptions<S, V>) {
    this.aggregateType = opts.decider.aggregateType;
    this.name = `${this.aggregateType}s`;
    this.history = new ChangeHistory(opts.historySize ?? 100_000);
    this.index = new ListIndex(opts.terms);
  }

  applyCommit(commit: readonly RecordedEvent[]): void {
    if (commit.length === 0) return;
    const revision = commit[0].revision;
    // Already in the model (restored from a snapshot at or after it).
    if (revision <= this.position) return;
    const touched = new Map<string, V | undefined>();
    for (const raw of commit) {
      if (raw.aggregateType !== this.aggregateType) continue;
      const e = (this.opts.upcast ?? UPCASTERS.upcast)(raw);
      const id = e.aggregateId;
      if (!touched.has(id)) touched.set(id, this.views.get(id));
      const prev = this.states.get(id) ?? this.opts.decider.initialState(id);
      this.states.set(id, this.opts.decider.evolve(prev, e as unknown as Evolving<DomainEvent>));
    }
    this.position = revision;
    const time = commit[0].time;
    for (const [id, before] of touched) {
      const after = this.opts.view(this.states.get(id)!);
      this.index.update(id, before, after);
      let change: Change<V> | undefined;
      if (after !== undefined) {
        this.views.set(id, after);
        this.changedAt.set(id, time.getTime());
        change = before === undefined ? { type: 'ADDED', id, object: after, revision, time } : { type: 'MODIFIED', id, object: after, previous: before, revision, time };
      } else if (before !== undefined) {
        this.views.delete(id);
        this.changedAt.delete(id);
        change = { type: 'DELETED', id, object: before, revision, time };
      }
      if (!change) continue;
      this.history.push(change);
      this.changes$.next(change);
    }
  }

  /** When the object last changed (the commit time), for snapshot entries of a watch. */
  lastChanged(id: string): Date | undefined {
    const ms = this.changedAt.get(id);
    return ms === undefined ? undefined : new Date(ms);
  }

  get(id: string): V | undefined {
    return this.views.get(id);
  }

  /** The aggregate state behind a view (for process managers and checks that need more than the view). */
  state(id: string): S | undefined {
    return this.states.get(id);
  }

  get size(): number {
    return this.views.size;
  }

  /** Every live object, ordered by id (stable order for paging). */
  list(): V[] {
    return this.ids().map((id) => this.views.get(id)!);
  }

  /** Every live object's id, ordered; the array does not change afterwards. */
  ids(): readonly string[] {
    return this.index.all.snapshot();
  }

  /**
   * Up to `limit` objects after the id `after` (ordered by id) that carry every
   * term (built as the model's `terms` option builds them): a page's cost
   * does not grow with the model.
   */
  select(terms: readonly string[], after: string | undefined, limit: number): V[] {
    return this.index.select(terms, after, limit).map((id) => this.views.get(id)!);
  }

  /** The id of every object that carries every term, in order. */
  idsWith(terms: readonly string[]): string[] {
    return this.index.select(terms, undefined, Infinity);
  }

  /** How many objects carry every term. */
  count(terms: readonly string[]): number {
    return this.index.count(terms);
  }

  changesAfter(revision: number): Change<V>[] | undefined {
    return this.history.after(revision);
  }

  forgetHistoryBefore(revision: number): void {
    this.history.forgetBefore(revision);
  }

  get snapshotVersion(): string {
    const d = this.opts.decider;
    const shape = JSON.stringify(Object.keys(d.initialState('x') as object).sort());
    const code = createHash('sha256').update(`${d.evolve.toString()}\n${d.initialState.toString()}\n${shape}`).digest('hex').slice(0, 12);
    return `${this.opts.snapshotVersion ?? '1'}:${code}`;
  }

  /**
   * Which build's terms a snapshot's list index was made by: the terms' and the view's code (a
   * packed index made by other code is not restored; list-index.ts also checks a sample).
   */
  private get termsVersion(): string {
    return createHash('sha256').update(`${this.opts.terms}\n${this.opts.view}`).digest('hex').slice(0, 12);
  }

  /**
   * The states (views are derived from them again on restore) in id order, so the list index is
   * restored without sorting (sorted-ids.ts); each one's change time in the same order, in ms (-1:
   * none, a deleted entity's), where [id, Date] pairs were arrays, ids and Dates to make at a
   * restore; and the list index's terms as places in that order: making every object's terms
   * again was ~0.25-0.45 s of a restart at 110,000 objects (BENCHMARKS.md, Restart).
   */
  snapshot(): unknown {
    const states = [...this.states].sort(byId);
    const out = { states, changedTimes: states.map(([id]) => this.changedAt.get(id) ?? -1) };
    if (!this.opts.terms) return out;
    const packing = this.index.packing();
    const version = this.termsVersion;
    return {
      ...out,
      index: new Later(async (pause) => {
        const { count, bytes } = await packing(pause);
        return { version, count, packed: bytes.toString('base64') };
      }),
    };
  }

  restore(data: unknown, position: number): void {
    const d = data as { states: [string, S][]; changedTimes?: number[]; changedAt?: [string, Date][]; index?: { version: string; count: number; packed: string } };
    this.states.clear();
    this.views.clear();
    for (const [id, s] of d.states) {
      this.states.set(id, s);
      const v = this.opts.view(s);
      if (v !== undefined) this.views.set(id, v);
    }
    this.changedAt.clear();
    if (d.changedTimes) d.changedTimes.forEach((ms, i) => ms >= 0 && this.changedAt.set(d.states[i][0], ms));
    // A snapshot taken before the times were numbers in the states' order.
    else for (const [id, t] of d.changedAt ?? []) this.changedAt.set(id, t.getTime());
    const packed = d.index?.version === this.termsVersion ? { count: d.index.count, bytes: Buffer.from(d.index.packed, 'base64') } : undefined;
    if (!packed || !this.index.restorePacked(this.views, packed)) this.index.reset(this.views);
    this.position = position;
    // Changes before the snapshot were never seen here: a watch from before it is OUT_OF_RANGE.
    this.history.forgetBefore(position);
    // Indexes derived from changes$ (subscribed before the projections start,
    // to see the whole log) get the restored objects as ADDED at the
    // snapshot's position, as a replay from zero would have shown them. A model
    // nothing subscribes to yet (most of them) makes none of those changes.
    if (!this.changes$.observed) return;
    for (const id of this.ids()) {
      const object = this.views.get(id)!;
      this.changes$.next({ type: 'ADDED', id, object, revision: position, time: new Date(this.changedAt.get(id) ?? 0) });
    }
  }
}

const byId = ([a]: [string, unknown], [b]: [string, unknown]) => (a < b ? -1 : a > b ? 1 : 0);
