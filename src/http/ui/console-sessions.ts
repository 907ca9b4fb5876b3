import type { JetStreamManager, KV, KvEntry, NatsConnection } from 'nats';
import { decodeGrant, encodeGrant, type Grant, keyOf, LOGIN_TTL_MS, loginLive, newSecret, SESSION_MAX_MS, seenDue, sessionLive } from './session-keys';

/** One-time login tokens and their spending (entries live one login TTL). */
export const LOGIN_BUCKET = 'HV_CONSOLE_LOGINS';
/** Sessions and their last requests (entries live a session's longest life). */
export const SESSION_BUCKET = 'HV_CONSOLE_SESSIONS';

export interface ConsoleSessionOptions {
  readonly replicas?: number;
  /** The clock (tests move it). */
  readonly now?: () => number;
  /** A session's last request could not be written down (NATS away): the session goes on. */
  readonly onSeenFailed?: (err: unknown) => void;
}

const live = (e: KvEntry | null): e is KvEntry => !!e && e.operation === 'PUT' && e.length > 0;

/**
 * The web console's logins and sessions, in two JetStream KV buckets every
 * server replica shares, so a session made on one replica is good on all
 * (the page moves to another when its own dies). The buckets hold only
 * SHA-256 hashes of tokens and session ids (session-keys.ts), never the
 * secrets. A login token is spent by the first `spent.<hash>` put: the
 * logins bucket keeps one message per key and refuses a second
 * (discard_new_per_subject), which every JetStream replica applies in log
 * order, so a token is good once across all replicas even on R3 (where
 * nats-server 2.9 does not hold a racing update-with-revision to its
 * revision: test/ha/jetstream-expected-seq.test.ts). A session is its grant
 * (written once, at login) and its last request (`seen.<hash>`, written at
 * most once a minute): a renewal never rewrites the grant, so a logout,
 * which deletes it, cannot be undone by a renewal in flight.
 */
export class ConsoleSessions {
  private constructor(
    private readonly logins: KV,
    private readonly sessions: KV,
    private readonly jsm: JetStreamManager,
    private readonly o: ConsoleSessionOptions,
  ) {}

  static async open(nc: NatsConnection, o: ConsoleSessionOptions = {}): Promise<ConsoleSessions> {
    const js = nc.jetstream();
    const replicas = o.replicas ?? 1;
    const logins = await js.views.kv(LOGIN_BUCKET, { ttl: LOGIN_TTL_MS, history: 1, replicas });
    // One message per key, and a second put to a key refused rather than replacing the first: spending is a race the first put wins.
    const jsm = await nc.jetstreamManager();
    const { config } = await jsm.streams.info(`KV_${LOGIN_BUCKET}`);
    if (!config.discard_new_per_subject) await jsm.streams.update(config.name, { ...config, discard_new_per_subject: true });
    const sessions = await js.views.kv(SESSION_BUCKET, { ttl: SESSION_MAX_MS, history: 1, replicas });
    return new ConsoleSessions(logins, sessions, jsm, o);
  }

  private now(): number {
    return (this.o.now ?? Date.now)();
  }

  /** A one-time login token for `identity` (`user:alice`, `local:admin`): the caller's alone, never stored. */
  async mintLogin(identity: string): Promise<{ token: string; expiresAt: Date }> {
    const token = newSecret();
    const expires = this.now() + LOGIN_TTL_MS;
    await this.logins.create(keyOf('login', token)!, encodeGrant({ identity, at: expires }));
    return { token, expiresAt: new Date(expires) };
  }

  /** Spends a login token: a new session id, or undefined for a token unknown, spent (here or on another replica) or expired. */
  async redeem(token: string): Promise<string | undefined> {
    const key = keyOf('login', token);
    if (!key) return undefined;
    const grant = await this.grantOf(this.logins, LOGIN_BUCKET, key);
    if (!grant || !loginLive(grant, this.now())) return undefined;
    try {
      await this.logins.put(keyOf('spent', token)!, new Uint8Array([1]));
    } catch {
      // Refused: spent already (or NATS away, and then no session could be made either).
      return undefined;
    }
    const id = newSecret();
    await this.sessions.create(keyOf('session', id)!, encodeGrant({ identity: grant.identity, at: this.now() }));
    return id;
  }

  /** The identity of a live session, whose idle hour starts again. */
  async identityOf(sessionId: string | undefined): Promise<string | undefined> {
    const key = keyOf('session', sessionId);
    if (!key) return undefined;
    const seenKey = keyOf('seen', sessionId)!;
    const [grant, seen] = await Promise.all([this.grantOf(this.sessions, SESSION_BUCKET, key), this.sessions.get(seenKey)]);
    if (!grant) return undefined;
    const lastSeen = live(seen) ? Number(new TextDecoder().decode(seen.value)) : undefined;
    const now = this.now();
    if (!sessionLive(grant, lastSeen, now)) {
      await this.end(sessionId);
      return undefined;
    }
    if (seenDue(grant, lastSeen, now)) void this.sessions.put(seenKey, new TextEncoder().encode(String(now))).catch((err) => this.o.onSeenFailed?.(err));
    return grant.identity;
  }

  /**
   * A key's grant. A KV get is answered by any replica of the bucket (direct
   * get), which may not have a key written on another server replica a
   * moment ago (a login just made, a session just begun): a key not found
   * there is asked of the stream's leader, which has every acknowledged write.
   */
  private async grantOf(kv: KV, bucket: string, key: string): Promise<Grant | undefined> {
    const e = await kv.get(key);
    if (e) return live(e) ? decodeGrant(e.value) : undefined;
    const m = await this.jsm.streams.getMessage(`KV_${bucket}`, { last_by_subj: `$KV.${bucket}.${key}` }).catch(() => undefined);
    return m && !m.header?.get('KV-Operation') && m.data.length > 0 ? decodeGrant(m.data) : undefined;
  }

  /** Logs a session out on every replica (its grant gone, nothing of it left in the bucket). */
  async end(sessionId: string | undefined): Promise<void> {
    const key = keyOf('session', sessionId);
    if (!key) return;
    await this.sessions.purge(key);
    await this.sessions.purge(keyOf('seen', sessionId)!);
  }
}
