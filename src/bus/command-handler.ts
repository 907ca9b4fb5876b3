import { randomUUID } from 'node:crypto';
import { Conflict, DomainError, Internal, InvalidArgument } from '../errors';
import type { NewEvent, RecordedEvent, StreamId } from '../eventstore/event';
import type { EventStore, StreamRead } from '../eventstore/port';
import { UPCASTERS } from '../eventstore/upcasting/registry';
import type { CommandResult } from '../commands/command';
import type { CommandEnvelope } from './envelope';
import type { AnyDecider, DomainEvent, Evolving } from '../commands/decider';
import { KeyedMutex } from '../shared/keyed-mutex';
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
}

/**
 * Runs one command: load the aggregate, decide, append at the expected
 * revision; on Conflict reload and decide again. Commands to the same
 * aggregate are serialised in this process, so conflicts only arise between
 * processes. Aggregates stay cached: a stale cache shows up as a Conflict.
 */
export class CommandHandler {
  private readonly deciders = new Map<string, AnyDecider>();
  private readonly cache: LruCache<string, Loaded>;
  private readonly locks = new KeyedMutex();
  private readonly maxRetries: number;
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
    return this.locks.run(key, () => this.decideAndAppend(decider, key, env));
  }

  private async decideAndAppend(decider: AnyDecider, key: string, env: CommandEnvelope): Promise<CommandResult> {
    const stream: StreamId = { aggregateType: env.aggregateType, aggregateId: env.aggregateId };
    const commit = keyOf(env);
    for (let attempt = 0; ; attempt++) {
      // 1. Load (cached, or read the stream and fold it).
      const cached = this.cache.get(key);
      const asIndexed = !cached && attempt === 0 ? this.opts.readStreamAsIndexed : undefined;
      const loaded = cached ?? (await this.load(decider, stream, asIndexed));
      // Either may be stale: decisions that do not append are checked against the store.
      const unverified = cached !== undefined || asIndexed !== undefined;
      // 2. A request seen before answers with where it landed and adds nothing;
      //    its id sent with another request is refused. Commits never leave the
      //    log, so what the cache holds of them is true even when it is stale.
      const seen = this.seen(loaded, commit, env);
      if (seen) return seen;
      // 3. Decide. Domain errors go back to the caller as they are.
      let decided: DomainEvent[];
      try {
        decided = decider.decide(env.command, loaded.state) as DomainEvent[];
      } catch (e) {
        // A refusal made on a cached (or as-indexed) state is checked against the store: another
        // process, or a commit the index has not applied yet, may have moved the stream, and only
        // an append would have told.
        if (unverified && e instanceof DomainError && !(await this.isCurrent(stream, loaded))) {
          this.cache.delete(key);
          continue;
        }
        throw e;
      }
      if (decided.length === 0) {
        // "Nothing to do" is checked the same way (a report the stale state calls a repeat, say).
        if (unverified && !(await this.isCurrent(stream, loaded))) {
          this.cache.delete(key);
          continue;
        }
        return { position: loaded.revision, events: 0 };
      }
      const events: NewEvent[] = decided.map((e) => ({
        id: randomUUID(),
        type: e.type,
        data: e.data,
        schemaVersion: this.schemaVersion(env.aggregateType, e.type),
        meta: env.meta,
      }));
      // 4. Append at the revision we decided on.
      try {
        const appended = await this.store.append(stream, loaded.revision, commitIdOf(commit), events);
        if (appended.duplicate) return await this.answerFromStore(key, stream, commit, env, decider);
        const time = this.now();
        const state = decided.reduce((s, e) => decider.evolve(s, { ...e, time } as Evolving<DomainEvent>), loaded.state);
        loaded.commits.set(commit.scope, { position: appended.position, fingerprint: commit.fingerprint });
        this.cache.set(key, { state, revision: appended.position, commits: loaded.commits });
        return { position: appended.position, events: events.length };
      } catch (e) {
        if (!(e instanceof Conflict) || attempt >= this.maxRetries) throw e;
        // Another process moved the stream: forget what we knew, decide again.
        this.cache.delete(key);
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 ** attempt)));
      }
    }
  }

  private seen(loaded: Loaded, commit: CommitKey, env: CommandEnvelope): CommandResult | undefined {
    const seen = loaded.commits.get(commit.scope);
    if (!seen) return undefined;
    if (seen.fingerprint !== undefined && seen.fingerprint !== commit.fingerprint) throw new InvalidArgument(reusedIdMessage(env));
    return { position: seen.position, events: 0 };
  }

  /**
   * The store says this commit is already there (another process appended
   * it, or an earlier try whose answer was lost): our state is stale, so read
   * the stream itself, not an index that may lag, and answer from the commit.
   */
  private async answerFromStore(key: string, stream: StreamId, commit: CommitKey, env: CommandEnvelope, decider: AnyDecider): Promise<CommandResult> {
    this.cache.delete(key);
    const fresh = await this.load(decider, stream, (s) => this.store.readStream(s));
    this.cache.set(key, fresh);
    const seen = this.seen(fresh, commit, env);
    if (seen) return seen;
    throw new Internal(`the event store reported commit ${commitIdOf(commit)} as a duplicate, but stream ${key} does not hold it`);
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
