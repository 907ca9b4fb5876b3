import { randomUUID } from 'node:crypto';
import { Conflict, DomainError, Internal, InvalidArgument } from '../errors';
import type { NewEvent, RecordedEvent, StreamId } from '../eventstore/event';
import type { EventStore, StreamRead } from '../eventstore/port';
import { UPCASTERS } from '../eventstore/upcasting/registry';
import type { CommandResult } from '../commands/command';
import type { CommandEnvelope } from './envelope';
import type { AnyDecider, DomainEvent, Evolving } from '../commands/decider';
import { LruCache } from '../shared/lru-cache';
import { type CommitKey, commitIdOf, keyOf, parseCommitId, reusedIdMessage } from './idempotency';


interface Loaded {
  state: unknown;
  revision: number;
  /**
   * The commits already in the stream by scope (command type and id), with
   * their positions and fingerprints: exact idempotency beyond JetStream's
   * dedupe window, and the record of which request an id was used for.
   */
  commits: Map<string, { position: number; fingerprint: string | undefined }>;
}

export interface CommandHandlerOptions {
  readonly maxConflictRetries?: number;
  readonly cacheSize?: number;
  readonly now?: () => Date;
  /** Turns stored events of older schema versions into the current shape (default: UPCASTERS). */
  readonly upcast?: (e: RecordedEvent) => RecordedEvent;
  /** The schema version written for an event type (default: UPCASTERS' current version). */
  readonly schemaVersion?: (aggregateType: string, type: string) => number;
  /**
   * How an aggregate's stream is read when it is not cached (default: the
   * store's readStream). The server reads through its aggregate index, so a
   * load costs the stream's length, not the log's; the append's expected
   * revision still catches anything stale.
   */
  readonly readStream?: (stream: StreamId) => Promise<StreamRead>;
  /**
   * A first read that may lag the log (the aggregate index as it is now,
   * without waiting for it to reach the log's head: a round trip and the
   * follower's delay on every write to a stream not cached). What is decided
   * on it is checked as a cached state is: an append at its revision
   * conflicts if it is stale, a refusal or "nothing to do" is checked
   * against the store, and the next attempt reads through readStream.
   */
  readonly readStreamAsIndexed?: (stream: StreamId) => Promise<StreamRead>;
  /** At most this many commands in one commit, where the store groups them (default 32). */
  readonly maxGroup?: number;
  /**
   * Whether commands may go together in one commit now (default: yes): not while a replica
   * of an older build reads the log (replica-features.ts).
   */
  readonly mayGroup?: () => boolean;
}

/** A command waiting for its turn on its aggregate, and how to answer it. */
interface Queued {
  readonly env: CommandEnvelope;
  readonly commit: CommitKey;
  readonly resolve: (r: CommandResult) => void;
  readonly reject: (e: unknown) => void;
}

/** What one command of a group came to; only an append makes `events` and `again` stand. */
type Outcome =
  | { readonly kind: 'events'; readonly events: readonly DomainEvent[] }
  /** The same request as one before it in the group: answered with that one's commit. */
  | { readonly kind: 'again' }
  | { readonly kind: 'seen'; readonly result: CommandResult }
  | { readonly kind: 'nothing' }
  | { readonly kind: 'refused'; readonly error: unknown };

/**
 * Runs commands: load the aggregate, decide, append at the expected
 * revision; on Conflict reload and decide again. Commands to the same
 * aggregate take turns in this process, so conflicts only arise between
 * processes. Aggregates stay cached: a stale cache shows up as a Conflict.
 *
 * Group commit: the commands that queued for an aggregate while its append
 * was out are decided together, each on the state the ones before it leave,
 * and appended as one commit (each event names its own command in
 * `commitId`), where the store allows it. One hot aggregate (the network
 * pool that every CreateNetwork reserves from) is then one round trip per
 * group, not per command; each command is still answered on its own: its
 * events, its refusal, its "nothing to do", its repeat.
 */
export class CommandHandler {
  private readonly deciders = new Map<string, AnyDecider>();
  private readonly cache: LruCache<string, Loaded>;
  private readonly queues = new Map<string, Queued[]>();
  private readonly maxRetries: number;
  private readonly maxGroup: number;
  private readonly now: () => Date;
  private readonly upcast: (e: RecordedEvent) => RecordedEvent;
  private readonly schemaVersion: (aggregateType: string, type: string) => number;

  constructor(
    private readonly store: EventStore,
    deciders: readonly AnyDecider[],
    private readonly opts: CommandHandlerOptions = {},
  ) {
    for (const d of deciders) this.deciders.set(d.aggregateType, d);
    this.cache = new LruCache(opts.cacheSize ?? 10_000);
    this.maxRetries = opts.maxConflictRetries ?? 50;
    this.maxGroup = store.groupsCommands ? (opts.maxGroup ?? 32) : 1;
    this.now = opts.now ?? (() => new Date());
    this.upcast = opts.upcast ?? UPCASTERS.upcast;
    this.schemaVersion = opts.schemaVersion ?? ((a, t) => UPCASTERS.currentVersion(a, t));
  }

  aggregateTypes(): string[] {
    return [...this.deciders.keys()];
  }

  handle(env: CommandEnvelope): Promise<CommandResult> {
    const decider = this.deciders.get(env.aggregateType);
    if (!decider) return Promise.reject(new InvalidArgument(`unknown aggregate type "${env.aggregateType}"`));
    const key = `${env.aggregateType}-${env.aggregateId}`;
    return new Promise<CommandResult>((resolve, reject) => {
      const queued: Queued = { env, commit: keyOf(env), resolve, reject };
      const queue = this.queues.get(key);
      if (queue) return void queue.push(queued);
      this.queues.set(key, [queued]);
      void this.drain(decider, key);
    });
  }

  /** Takes the aggregate's queue group by group until it is empty; every command in it is answered. */
  private async drain(decider: AnyDecider, key: string): Promise<void> {
    const queue = this.queues.get(key)!;
    while (queue.length > 0) {
      const group = queue.splice(0, this.maxGroup > 1 && this.opts.mayGroup?.() === false ? 1 : this.maxGroup);
      await this.decideAndAppend(decider, key, group).catch((e: unknown) => {
        for (const q of group) q.reject(e);
      });
    }
    this.queues.delete(key);
  }

  private async decideAndAppend(decider: AnyDecider, key: string, group: readonly Queued[]): Promise<void> {
    const { aggregateType, aggregateId } = group[0].env;
    const stream: StreamId = { aggregateType, aggregateId };
    for (let attempt = 0; ; attempt++) {
      // 1. Load (cached, or read the stream and fold it).
      const cached = this.cache.get(key);
      const asIndexed = !cached && attempt === 0 ? this.opts.readStreamAsIndexed : undefined;
      const loaded = cached ?? (await this.load(decider, stream, asIndexed));
      // Either may be stale: decisions that do not append are checked against the store.
      const unverified = cached !== undefined || asIndexed !== undefined;
      // 2. Decide each command on the state the ones before it leave.
      const time = this.now();
      let state = loaded.state;
      let doubted = false;
      const decidedHere = new Map<string, string | undefined>();
      const outcomes = group.map((q): Outcome => {
        try {
          // A request seen before answers with where it landed and adds nothing; its id sent with
          // another request is refused. Commits never leave the log, so what the cache holds of
          // them is true even when it is stale.
          const seen = this.seen(loaded, q.commit, q.env);
          if (seen) return { kind: 'seen', result: seen };
          if (decidedHere.has(q.commit.scope)) {
            if (decidedHere.get(q.commit.scope) !== q.commit.fingerprint) throw new InvalidArgument(reusedIdMessage(q.env));
            return { kind: 'again' };
          }
        } catch (e) {
          return { kind: 'refused', error: e };
        }
        let events: DomainEvent[];
        try {
          events = decider.decide(q.env.command, state) as DomainEvent[];
        } catch (e) {
          // A refusal made on a cached (or as-indexed) state is checked against the store: another
          // process, or a commit the index has not applied yet, may have moved the stream, and only
          // an append would have told.
          if (e instanceof DomainError) doubted ||= unverified;
          return { kind: 'refused', error: e };
        }
        // "Nothing to do" is checked the same way (a report the stale state calls a repeat, say).
        if (events.length === 0) {
          doubted ||= unverified;
          return { kind: 'nothing' };
        }
        decidedHere.set(q.commit.scope, q.commit.fingerprint);
        state = events.reduce((s, e) => decider.evolve(s, { ...e, time } as Evolving<DomainEvent>), state);
        return { kind: 'events', events };
      });
      const appending = group.filter((_, i) => outcomes[i].kind === 'events');
      if (appending.length === 0) {
        if (doubted && !(await this.isCurrent(stream, loaded))) {
          this.cache.delete(key);
          continue;
        }
        return this.answer(group, outcomes, loaded.revision);
      }
      // 3. Append at the revision we decided on: one commit, named after its first command. Its expected
      //    revision also checks the state the group's refusals and "nothing to do"s were decided on.
      const commitId = commitIdOf(appending[0].commit);
      const events: NewEvent[] = group.flatMap((q, i) => {
        const o = outcomes[i];
        if (o.kind !== 'events') return [];
        const own = commitIdOf(q.commit);
        return o.events.map((e) => ({
          id: randomUUID(),
          type: e.type,
          data: e.data,
          schemaVersion: this.schemaVersion(aggregateType, e.type),
          meta: q.env.meta,
          ...(own === commitId ? {} : { commitId: own }),
        }));
      });
      let position: number;
      try {
        const appended = await this.store.append(stream, loaded.revision, commitId, events);
        position = appended.position;
        if (appended.duplicate) {
          // The store holds the first command's commit already (another process appended it, or an
          // earlier try whose answer was lost): our state is stale. Read the stream itself, not an
          // index that may lag, and decide again: what the store holds answers as seen.
          const fresh = await this.load(decider, stream, (s) => this.store.readStream(s));
          this.cache.set(key, fresh);
          if (!fresh.commits.has(appending[0].commit.scope))
            throw new Internal(`the event store reported commit ${commitId} as a duplicate, but stream ${key} does not hold it`);
          continue;
        }
      } catch (e) {
        if (e instanceof InvalidArgument && appending.length > 1) {
          // Too large together (each command's own size is checked when it goes alone).
          for (const q of group) await this.decideAndAppend(decider, key, [q]).catch((err: unknown) => q.reject(err));
          return;
        }
        if (!(e instanceof Conflict) || attempt >= this.maxRetries) throw e;
        // Another process moved the stream: forget what we knew, decide again.
        this.cache.delete(key);
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 ** attempt)));
        continue;
      }
      for (const q of appending) loaded.commits.set(q.commit.scope, { position, fingerprint: q.commit.fingerprint });
      this.cache.set(key, { state, revision: position, commits: loaded.commits });
      return this.answer(group, outcomes, position);
    }
  }

  /** Each command's answer once its group's fate is known; `position` is where the group stands in the log. */
  private answer(group: readonly Queued[], outcomes: readonly Outcome[], position: number): void {
    group.forEach((q, i) => {
      const o = outcomes[i];
      if (o.kind === 'refused') q.reject(o.error);
      else if (o.kind === 'seen') q.resolve(o.result);
      else q.resolve({ position, events: o.kind === 'events' ? o.events.length : 0 });
    });
  }

  private seen(loaded: Loaded, commit: CommitKey, env: CommandEnvelope): CommandResult | undefined {
    const seen = loaded.commits.get(commit.scope);
    if (!seen) return undefined;
    if (seen.fingerprint !== undefined && seen.fingerprint !== commit.fingerprint) throw new InvalidArgument(reusedIdMessage(env));
    return { position: seen.position, events: 0 };
  }

  /** One cheap read instead of replaying the stream: has anyone appended since we cached it? */
  private async isCurrent(stream: StreamId, loaded: Loaded): Promise<boolean> {
    return (await this.store.streamRevision(stream)) === loaded.revision;
  }

  private async load(decider: AnyDecider, stream: StreamId, read$ = this.opts.readStream ?? ((s: StreamId) => this.store.readStream(s))): Promise<Loaded> {
    const read = await read$(stream);
    const commits: Loaded['commits'] = new Map();
    let state = decider.initialState(stream.aggregateId);
    for (const raw of read.events) {
      const e = this.upcast(raw);
      const k = parseCommitId(e.commitId);
      commits.set(k.scope, { position: e.revision, fingerprint: k.fingerprint });
      state = decider.evolve(state, e as unknown as Evolving<DomainEvent>);
    }
    return { state, revision: read.revision, commits };
  }
}
