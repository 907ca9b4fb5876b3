import assert from 'node:assert/strict';
import { decodeGrant, encodeGrant, keyOf, loginLive, newSecret, SEEN_EVERY_MS, seenDue, SESSION_IDLE_MS, SESSION_MAX_MS, sessionLive } from './session-keys';

describe('console session keys and lifetimes', () => {
  it('keys a secret by its SHA-256: never the secret, the same on every replica, one per kind', () => {
    const s = newSecret();
    assert.match(s, /^[A-Za-z0-9_-]{43}$/);
    const k = keyOf('session', s)!;
    assert.match(k, /^session\.[A-Za-z0-9_-]{43}$/);
    assert.ok(!k.includes(s));
    assert.equal(keyOf('session', s), k);
    assert.equal(keyOf('login', s)!.slice('login.'.length), k.slice('session.'.length));
    assert.notEqual(keyOf('session', newSecret()), k);
  });

  it('a key (the hash) given as a secret leads to another key, not to the entry', () => {
    const s = newSecret();
    const hash = keyOf('login', s)!.slice('login.'.length);
    assert.notEqual(keyOf('login', hash), keyOf('login', s));
  });

  it('looks up nothing for what is not a secret of ours', () => {
    for (const bad of [undefined, '', 'forged', 'a'.repeat(42), 'a'.repeat(44), `${'a'.repeat(42)}.`, `${'a'.repeat(42)}*`]) assert.equal(keyOf('session', bad), undefined, String(bad));
  });

  it('round-trips a grant, and reads nothing from a malformed entry', () => {
    assert.deepEqual(decodeGrant(encodeGrant({ identity: 'user:alice', at: 5 })), { identity: 'user:alice', at: 5 });
    assert.equal(decodeGrant(new TextEncoder().encode('{"identity":1,"at":5}')), undefined);
    assert.equal(decodeGrant(new TextEncoder().encode('not json')), undefined);
  });

  it('given a login ending at t: live until t, refused after', () => {
    assert.equal(loginLive({ identity: 'u', at: 1000 }, 1000), true);
    assert.equal(loginLive({ identity: 'u', at: 1000 }, 1001), false);
  });

  it('given a session: live an idle hour after its last request, and never past twelve hours', () => {
    const g = { identity: 'u', at: 0 };
    assert.equal(sessionLive(g, undefined, SESSION_IDLE_MS), true);
    assert.equal(sessionLive(g, undefined, SESSION_IDLE_MS + 1), false, 'idle an hour since the login');
    assert.equal(sessionLive(g, SESSION_IDLE_MS, 2 * SESSION_IDLE_MS), true, 'a request renewed it');
    assert.equal(sessionLive(g, SESSION_MAX_MS - 1, SESSION_MAX_MS + 1), false, 'twelve hours since the login, however busy');
  });

  it('writes a request down once a minute at most', () => {
    const g = { identity: 'u', at: 0 };
    assert.equal(seenDue(g, undefined, SEEN_EVERY_MS - 1), false);
    assert.equal(seenDue(g, undefined, SEEN_EVERY_MS), true);
    assert.equal(seenDue(g, 10 * SEEN_EVERY_MS, 10.5 * SEEN_EVERY_MS), false);
  });
});
