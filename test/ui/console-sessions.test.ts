import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NatsConnection } from 'nats';
import { ConsoleSessions, LOGIN_BUCKET, SESSION_BUCKET } from '../../src/http/ui/console-sessions';
import { consoleUserOf } from '../../src/http/ui/console-user';
import { SessionGate } from '../../src/http/ui/session-gate';
import { keyOf, LOGIN_TTL_MS, SESSION_IDLE_MS } from '../../src/http/ui/session-keys';
import type { HttpRoutes } from '../../src/http/http-server';
import { TestNats } from '../support/nats';
import { until } from '../support/until';

/** Behind the gate: answers who the request runs as (what the gRPC calls it causes would be made for). */
const whoAmI: HttpRoutes = {
  handle: (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ identity: consoleUserOf(req) }));
    return true;
  },
  upgrade: () => false,
};

/** A replica's console edge: its own NATS connection, its own store instance, its own HTTP server. */
class Replica {
  sessions!: ConsoleSessions;
  private server?: http.Server;
  base = '';

  async start(nc: NatsConnection, now?: () => number): Promise<this> {
    this.sessions = await ConsoleSessions.open(nc, { now });
    const gate = new SessionGate(this.sessions, whoAmI);
    this.server = http.createServer((req, res) => {
      if (!gate.handle(req, res)) res.writeHead(404).end();
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  get(path: string, cookie?: string): Promise<Response> {
    return fetch(this.base + path, { redirect: 'manual', headers: cookie ? { cookie } : {} });
  }

  stop(): Promise<void> {
    return new Promise((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

const sessionCookieOf = (r: Response): string => {
  const set = r.headers.get('set-cookie') ?? '';
  assert.match(set, /^hv_session=[A-Za-z0-9_-]{43}; Path=\/ui; HttpOnly; Secure; SameSite=Strict; Max-Age=3600$/);
  return set.split(';')[0];
};

/**
 * Issue 24, item 4 for the web console in network mode: its logins and
 * sessions in JetStream KV buckets every server replica shares (a real
 * nats-server), two replicas' store instances and gates side by side.
 */
describe('console sessions shared by the server replicas (real nats-server)', function () {
  this.timeout(30_000);
  const nats = new TestNats();
  let clock = Date.now();
  const a = new Replica();
  const b = new Replica();
  let nc: NatsConnection;

  before(async () => {
    await nats.start();
    nc = await nats.connect();
    await a.start(await nats.connect(), () => clock);
    await b.start(await nats.connect(), () => clock);
  });
  after(async () => {
    await Promise.all([a.stop(), b.stop()]);
    await nats.stop();
  });

  const who = async (r: Replica, cookie: string) => {
    const res = await r.get('/ui/api/cluster', cookie);
    return { status: res.status, identity: res.status === 200 ? ((await res.json()) as { identity: string }).identity : undefined };
  };

  it('a session made through replica A is taken by replica B, as the identity that logged in', async () => {
    const { token } = await a.sessions.mintLogin('user:alice');
    const login = await a.get(`/ui/login?token=${token}`);
    assert.equal(login.status, 303);
    assert.equal(login.headers.get('location'), '/ui/');
    const cookie = sessionCookieOf(login);
    assert.deepEqual(await who(b, cookie), { status: 200, identity: 'user:alice' });
    assert.deepEqual(await who(a, cookie), { status: 200, identity: 'user:alice' });
  });

  it('a login token is good once across replicas: its second use, on the other replica, is 401', async () => {
    const { token } = await b.sessions.mintLogin('user:bob');
    assert.equal((await a.get(`/ui/login?token=${token}`)).status, 303);
    const again = await b.get(`/ui/login?token=${token}`);
    assert.equal(again.status, 401);
    assert.equal(again.headers.get('set-cookie'), null);
    assert.equal(((await again.json()) as { code: string }).code, 'UNAUTHENTICATED');
    assert.equal((await a.get(`/ui/login?token=${token}`)).status, 401, 'nor on the replica that took it');
  });

  it('a login token used at once through both replicas (eight tries) makes exactly one session', async () => {
    for (let round = 0; round < 10; round++) {
      const { token } = await a.sessions.mintLogin('user:race');
      const tries = await Promise.all([a, b, a, b, a, b, a, b].map((r) => r.get(`/ui/login?token=${token}`)));
      assert.deepEqual(tries.map((t) => t.status).sort(), [303, 401, 401, 401, 401, 401, 401, 401], `round ${round}`);
    }
  });

  it('an expired login token is refused (401), on every replica', async () => {
    const { token, expiresAt } = await a.sessions.mintLogin('user:late');
    assert.equal(expiresAt.getTime(), clock + LOGIN_TTL_MS);
    clock += LOGIN_TTL_MS + 1;
    try {
      assert.equal((await b.get(`/ui/login?token=${token}`)).status, 401);
      assert.equal((await a.get(`/ui/login?token=${token}`)).status, 401);
    } finally {
      clock -= LOGIN_TTL_MS + 1;
    }
  });

  it('a session idle for an hour is refused on every replica, and gone from the bucket', async () => {
    const { token } = await a.sessions.mintLogin('user:idle');
    const cookie = sessionCookieOf(await a.get(`/ui/login?token=${token}`));
    clock += SESSION_IDLE_MS + 1;
    assert.equal((await who(b, cookie)).status, 401);
    assert.equal((await who(a, cookie)).status, 401);
    const kv = await nc.jetstream().views.kv(SESSION_BUCKET);
    assert.equal(await kv.get(keyOf('session', cookie.split('=')[1])!).then((e) => e?.operation ?? 'none'), 'PURGE');
  });

  it('requests keep a session alive past its first hour, on whichever replica they reach', async () => {
    const { token } = await a.sessions.mintLogin('user:busy');
    const cookie = sessionCookieOf(await a.get(`/ui/login?token=${token}`));
    const sid = cookie.split('=')[1];
    const kv = await nc.jetstream().views.kv(SESSION_BUCKET);
    for (let i = 0; i < 3; i++) {
      clock += SESSION_IDLE_MS / 2;
      assert.equal((await who(i % 2 ? a : b, cookie)).status, 200, `after ${(i + 1) / 2} h`);
      // The request was written down (in the background) before the next half hour passes.
      const at = clock;
      await until('the request written down', async () => Number((await kv.get(keyOf('seen', sid)!))?.string()) === at);
    }
  });

  it('logging out on replica A ends the session on B as well (401), and the cookie is cleared', async () => {
    const { token } = await a.sessions.mintLogin('user:leaving');
    const cookie = sessionCookieOf(await a.get(`/ui/login?token=${token}`));
    assert.equal((await who(b, cookie)).status, 200);
    const out = await fetch(`${a.base}/ui/logout`, { method: 'POST', headers: { cookie } });
    assert.equal(out.status, 204);
    assert.match(out.headers.get('set-cookie') ?? '', /^hv_session=; .*Max-Age=0$/);
    assert.equal((await who(b, cookie)).status, 401);
    assert.equal((await who(a, cookie)).status, 401);
  });

  it('a logout from another site\'s page (403) or by GET (405) is refused and ends nothing', async () => {
    const { token } = await a.sessions.mintLogin('user:stays');
    const cookie = sessionCookieOf(await a.get(`/ui/login?token=${token}`));
    assert.equal((await fetch(`${a.base}/ui/logout`, { headers: { cookie } })).status, 405, 'a GET (a link, an image) logs nobody out');
    const out = await fetch(`${a.base}/ui/logout`, { method: 'POST', headers: { cookie, origin: 'https://evil.example' } });
    assert.equal(out.status, 403);
    assert.equal((await who(b, cookie)).status, 200);
  });

  it('the buckets hold no token and no session id, and a key read from them logs nobody in', async () => {
    const { token } = await a.sessions.mintLogin('user:carol');
    const unspent = await b.sessions.mintLogin('user:carol');
    const cookie = sessionCookieOf(await a.get(`/ui/login?token=${token}`));
    const sid = cookie.split('=')[1];
    assert.equal((await who(b, cookie)).status, 200);
    // Every message of both buckets' streams, subjects and payloads, as raw bytes.
    const jsm = await nc.jetstreamManager();
    let raw = '';
    for (const stream of [`KV_${LOGIN_BUCKET}`, `KV_${SESSION_BUCKET}`]) {
      const { state } = await jsm.streams.info(stream);
      for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
        const m = await jsm.streams.getMessage(stream, { seq }).catch(() => undefined);
        if (m) raw += `${m.subject}\n${Buffer.from(m.data).toString('latin1')}\n`;
      }
    }
    assert.ok(raw.includes('user:carol'), 'the bucket was read (it names who logged in)');
    for (const secret of [token, unspent.token, sid]) assert.ok(!raw.includes(secret), 'a secret is in the bucket');
    // What the bucket has for the unspent token is its hash: given as a token, it is refused.
    const hashed = keyOf('login', unspent.token)!.slice('login.'.length);
    assert.ok(raw.includes(hashed));
    assert.equal((await a.get(`/ui/login?token=${hashed}`)).status, 401);
    assert.equal((await who(a, `hv_session=${keyOf('session', sid)!.slice('session.'.length)}`)).status, 401);
  });
});
