import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PeerConsoles } from './peer-consoles';

const req = (origin: string | undefined, method = 'GET') => ({ method, headers: { host: 'a:8080', ...(origin ? { origin } : {}) } }) as unknown as IncomingMessage;
const res = () => {
  const r = { headers: {} as Record<string, string>, status: 0, ended: false };
  const out = {
    setHeader: (k: string, v: string) => void (r.headers[k] = v),
    writeHead: (s: number, h: Record<string, string>) => (Object.assign(r.headers, h), (r.status = s), out),
    end: () => void (r.ended = true),
  };
  return { r, out: out as unknown as ServerResponse };
};

describe('the consoles of the other replicas', () => {
  let peers: PeerConsoles;
  before(async () => {
    peers = new PeerConsoles(async () => [{ httpAddress: 'a:8080' }, { httpAddress: 'b:8080' }, {}]);
    assert.deepEqual(await peers.list(), ['a:8080', 'b:8080']);
  });
  after(() => peers.close());

  it('admits no Origin (not a browser), its own, and a replica\'s page; refuses any other site', () => {
    assert.ok(peers.admits(req(undefined)));
    assert.ok(peers.admits(req('http://a:8080')));
    assert.ok(peers.admits(req('http://b:8080')));
    assert.ok(!peers.admits(req('http://evil.example')));
    assert.ok(!peers.admits(req('not a url')));
  });

  it('lets a replica\'s page read the answers and answers its preflight; adds nothing for its own page or another site', () => {
    const pre = res();
    assert.equal(peers.cors(req('http://b:8080', 'OPTIONS'), pre.out), true);
    assert.equal(pre.r.status, 204);
    assert.equal(pre.r.headers['access-control-allow-origin'], 'http://b:8080');
    assert.match(pre.r.headers['access-control-allow-headers'], /x-request-id/);
    const post = res();
    assert.equal(peers.cors(req('http://b:8080', 'POST'), post.out), false, 'the request itself goes on');
    assert.equal(post.r.headers['access-control-allow-origin'], 'http://b:8080');
    for (const origin of ['http://a:8080', 'http://evil.example']) {
      const other = res();
      assert.equal(peers.cors(req(origin, 'OPTIONS'), other.out), false);
      assert.equal(other.r.headers['access-control-allow-origin'], undefined);
    }
  });

  it('keeps the replicas it knew while the registry cannot be read (NATS away)', async () => {
    let up = true;
    const p = new PeerConsoles(async () => {
      if (!up) throw new Error('no NATS');
      return [{ httpAddress: 'b:8080' }];
    });
    assert.deepEqual(await p.list(), ['b:8080']);
    up = false;
    assert.deepEqual(await p.list(), ['b:8080']);
    p.close();
  });
});
