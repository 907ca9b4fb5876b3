import { rmSync } from 'node:fs';
import assert from 'node:assert/strict';
import http from 'node:http';
import WebSocket from 'ws';
import type { Agent } from '../../src/agent/agent';
import { InstanceState, InstanceType } from '../../src/gen/hypervisor/v1/common';
import { ComputeServiceClient, type Instance } from '../../src/gen/hypervisor/v1/compute';
import { createRequest, InstanceWatch, MiB } from '../support/compute';
import { call, TestControlPlane, until } from '../support/control-plane';
import { ImageServer } from '../support/image-server';
import { SseClient } from '../support/sse';
import { OneNodeLab } from '../support/one-node-lab';

const GiB = 1024 * MiB;

/** A WebSocket to the console bridge: the text it received, and how it closed. */
const openConsole = (url: string, headers: Record<string, string> = {}) => {
  const ws = new WebSocket(url, { headers });
  const s = { ws, text: '', closed: new Promise<{ code: number; reason: string }>((resolve, reject) => {
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    ws.on('unexpected-response', (_req, res) => resolve({ code: -(res.statusCode ?? 0), reason: res.statusMessage ?? '' }));
    ws.on('error', (e) => (e.message.includes('Unexpected server response') ? undefined : reject(e)));
  }) };
  ws.on('message', (d) => (s.text += d.toString()));
  return s;
};

describe('web console API (/ui/api): JSON over the gRPC API, watches as SSE, the console WebSocket', function () {
  this.timeout(60_000);
  const lab = new OneNodeLab();
  const { t } = lab;
  let images: ImageServer;
  let agent: Agent;
  let c: ComputeServiceClient;
  let watch: InstanceWatch;
  let base: string;
  let vm: Instance;

  const request = async (method: string, path: string, opts: { body?: string; headers?: Record<string, string> } = {}) => {
    const res = await fetch(`${base}${path}`, { method, body: opts.body, headers: opts.headers, redirect: 'manual' });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) as Record<string, unknown> };
  };
  const json = async (method: string, path: string, opts: { body?: string; headers?: Record<string, string> } = {}) => {
    const r = await request(method, path, opts);
    return { status: r.status, body: r.json() };
  };

  before(async () => {
    ({ images, agent, c, watch } = await lab.start({ driver: 'hollow', hollow: { supports: ['vm'] }, hostname: 'hollow-api', capacity: { cpuCores: 4, memoryBytes: 8 * GiB, diskBytes: 10 * GiB } }));
    base = `http://127.0.0.1:${t.cp.httpPort}`;
    const created = await call(c, c.createInstance, createRequest('api-1', InstanceType.INSTANCE_TYPE_VM, { kernel: images.url('vmlinuz'), memoryBytes: 256 * MiB }));
    vm = (await watch.state(created.id, InstanceState.INSTANCE_STATE_RUNNING, 30_000)).instance!;
  });
  after(() => lab.stop());

  it('serves the built page at /ui/ (and sends /ui there), with its hashed assets cached for good', async () => {
    const redirect = await request('GET', '/ui');
    assert.equal(redirect.status, 308);
    assert.equal(redirect.headers.get('location'), '/ui/');
    const page = await request('GET', '/ui/');
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.equal(page.headers.get('cache-control'), 'no-cache');
    const script = /src="(\/ui\/assets\/[^"]+\.js)"/.exec(page.text)?.[1];
    assert.ok(script, page.text);
    const asset = await request('GET', script);
    assert.equal(asset.status, 200);
    assert.match(asset.headers.get('content-type') ?? '', /javascript/);
    assert.match(asset.headers.get('cache-control') ?? '', /immutable/);
    assert.doesNotMatch(page.text, /(src|href)="(https?:)?\/\//, 'nothing is loaded from elsewhere (no CDN)');
    assert.equal((await request('GET', '/ui/assets/nothing.js')).status, 404);
    // Raw request: fetch would normalise the dots away.
    const escaped = await new Promise<number>((resolve, reject) =>
      http.get(`${base}/ui/..%2f..%2fpackage.json`, (res) => (res.resume(), resolve(res.statusCode ?? 0))).on('error', reject),
    );
    assert.equal(escaped, 404, 'nothing outside dist/ui is served');
    assert.equal((await request('GET', '/ui/%E0%A4%A')).status, 400, 'a path that does not decode');
    assert.equal((await request('GET', '/healthz')).status, 200, 'and the server is still up');
  });

  it('answers in the proto3 JSON mapping: enums by name, 64-bit integers as strings', async () => {
    const one = await json('GET', `/ui/api/instances/${vm.id}`);
    assert.equal(one.status, 200);
    assert.equal(one.body.state, 'INSTANCE_STATE_RUNNING');
    assert.equal(one.body.type, 'INSTANCE_TYPE_VM');
    assert.equal((one.body.spec as { memoryBytes: string }).memoryBytes, String(256 * MiB));
    const nodes = await json('GET', '/ui/api/nodes');
    const node = (nodes.body.nodes as { id: string; hostname: string; status: string; capacity: { cpuCores: number } }[]).find((n) => n.id === agent.nodeId);
    assert.deepEqual([node?.hostname, node?.status, node?.capacity.cpuCores], ['hollow-api', 'NODE_STATUS_READY', 4]);
    const list = await json('GET', '/ui/api/instances');
    assert.deepEqual((list.body.instances as Instance[]).map((i) => i.id), [vm.id]);
    const cluster = await json('GET', '/ui/api/cluster');
    assert.equal(cluster.body.totalNodes, 1);
  });

  it('fails with the gRPC code and message, and the HTTP status grpc-gateway gives it; checks are the gRPC API own', async () => {
    for (const [method, path, body, http, code, message] of [
      ['GET', '/ui/api/instances/nope', undefined, 404, 'NOT_FOUND', /instance nope not found/],
      ['POST', `/ui/api/instances/${vm.id}/start`, undefined, 400, 'FAILED_PRECONDITION', /RUNNING; only a STOPPED or FAILED/],
      ['POST', `/ui/api/instances/${vm.id}/stop`, '{"timeoutSeconds": -1}', 400, 'INVALID_ARGUMENT', /timeout_seconds: -1 is negative/],
      ['POST', `/ui/api/instances/${vm.id}/stop`, '{"force": "yes"}', 400, 'INVALID_ARGUMENT', /force: must be true or false/],
      ['POST', `/ui/api/instances/${vm.id}/stop`, 'stop it', 400, 'INVALID_ARGUMENT', /body: not JSON/],
      ['DELETE', `/ui/api/instances/${vm.id}?force=maybe`, undefined, 400, 'INVALID_ARGUMENT', /force: must be true or false/],
      ['PUT', `/ui/api/instances/${vm.id}`, undefined, 405, 'UNIMPLEMENTED', /PUT is not served/],
      ['GET', '/ui/api/nothing', undefined, 404, 'NOT_FOUND', /no \/ui\/api\/nothing/],
    ] as const) {
      const r = await json(method, path, { body });
      assert.equal(r.status, http, `${method} ${path}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.code, code, `${method} ${path}`);
      assert.match(String(r.body.message), message);
    }
    const badId = await json('POST', `/ui/api/instances/${vm.id}/stop`, { headers: { 'x-request-id': 'not an id!' } });
    assert.deepEqual([badId.status, badId.body.code], [400, 'INVALID_ARGUMENT']);
    assert.match(String(badId.body.message), /x-request-id/);
    assert.equal((await call(c, c.getInstance, { instanceId: vm.id })).state, InstanceState.INSTANCE_STATE_RUNNING, 'nothing was done');
  });

  it('refuses actions and consoles from a page of another site', async () => {
    const evil = { origin: 'http://evil.example' };
    const r = await json('POST', `/ui/api/instances/${vm.id}/stop`, { headers: evil });
    assert.deepEqual([r.status, r.body.code], [403, 'PERMISSION_DENIED']);
    const ws = openConsole(`ws://127.0.0.1:${t.cp.httpPort}/ui/api/instances/${vm.id}/console`, evil);
    assert.equal((await ws.closed).code, -403);
    assert.equal((await call(c, c.getInstance, { instanceId: vm.id })).state, InstanceState.INSTANCE_STATE_RUNNING);
  });

  it('streams the instance watch as SSE: snapshot then changes, ids are revisions, and Last-Event-ID resumes after them', async () => {
    const first = new SseClient(`${base}/ui/api/watch/instances`);
    const start = await first.until('start', (e) => e.event === 'start');
    assert.deepEqual(JSON.parse(start.data), { resumed: false, sinceRevision: '0' });
    const snap = await first.until('the snapshot', (e) => e.event === 'change' && JSON.parse(e.data).instance?.id === vm.id);
    assert.equal(JSON.parse(snap.data).type, 'EVENT_TYPE_ADDED');
    assert.equal(snap.id, JSON.parse(snap.data).revision, 'the SSE id is the revision');
    first.close();

    // Stopped while nobody watched: a watch resumed from the snapshot's revision gets exactly what came after.
    const stopped = await call(c, c.stopInstance, { instanceId: vm.id, force: false, timeoutSeconds: 5 });
    assert.equal(stopped.state, InstanceState.INSTANCE_STATE_STOPPED);
    const resumed = new SseClient(`${base}/ui/api/watch/instances`, { 'last-event-id': snap.id! });
    assert.deepEqual(JSON.parse((await resumed.until('start', (e) => e.event === 'start')).data), { resumed: true, sinceRevision: snap.id });
    await resumed.until('STOPPED', (e) => e.event === 'change' && JSON.parse(e.data).instance?.state === 'INSTANCE_STATE_STOPPED');
    const changes = resumed.events.filter((e) => e.event === 'change');
    assert.ok(changes.every((e) => BigInt(e.id!) > BigInt(snap.id!) && JSON.parse(e.data).type === 'EVENT_TYPE_MODIFIED'), JSON.stringify(changes));

    // And live: started through the API while watching.
    const started = await json('POST', `/ui/api/instances/${vm.id}/start`);
    assert.equal(started.body.state, 'INSTANCE_STATE_RUNNING', 'an OK answers with the instance as stored');
    await resumed.until('RUNNING again', (e) => e.event === 'change' && BigInt(e.id!) > BigInt(changes.at(-1)!.id!) && JSON.parse(e.data).instance?.state === 'INSTANCE_STATE_RUNNING');
    resumed.close();

    const bad = await json('GET', '/ui/api/watch/nodes?since_revision=-3');
    assert.deepEqual([bad.status, bad.body.code], [400, 'INVALID_ARGUMENT']);
    assert.match(String(bad.body.message), /since_revision/);
  });

  it('serves the same watch over a WebSocket (what the page uses): start, snapshot, changes, resumed by ?since_revision', async () => {
    const watchUrl = (q = '') => `ws://127.0.0.1:${t.cp.httpPort}/ui/api/watch/instances${q}`;
    const frames = (ws: WebSocket) => {
      const got: { type: string; resumed?: boolean; revision?: string; event?: { type: string; instance: { id: string; state: string } } }[] = [];
      ws.on('message', (d) => got.push(JSON.parse(d.toString())));
      return got;
    };
    const fresh = new WebSocket(watchUrl());
    const seen = frames(fresh);
    await until('the snapshot', () => seen.find((f) => f.type === 'change' && f.event?.instance.id === vm.id));
    assert.deepEqual(seen[0], { type: 'start', resumed: false, sinceRevision: '0' });
    const snap = seen.find((f) => f.type === 'change')!;
    assert.equal(snap.event?.type, 'EVENT_TYPE_ADDED');
    fresh.close();

    await call(c, c.stopInstance, { instanceId: vm.id, force: true, timeoutSeconds: 0 });
    const resumed = new WebSocket(watchUrl(`?since_revision=${snap.revision}`));
    const later = frames(resumed);
    await until('STOPPED', () => later.find((f) => f.event?.instance.state === 'INSTANCE_STATE_STOPPED'));
    assert.deepEqual(later[0], { type: 'start', resumed: true, sinceRevision: snap.revision });
    assert.ok(later.slice(1).every((f) => BigInt(f.revision!) > BigInt(snap.revision!) && f.event?.type === 'EVENT_TYPE_MODIFIED'), JSON.stringify(later));
    resumed.close();
    await call(c, c.startInstance, { instanceId: vm.id });

    assert.equal((await openConsole(watchUrl(), { origin: 'http://evil.example' }).closed).code, -403, 'another site cannot read the cluster through it');
    assert.equal((await openConsole(watchUrl('?since_revision=x')).closed).code, -400);
  });

  it('an X-Request-Id makes a retried action idempotent: the same id is the same command', async () => {
    const headers = { 'x-request-id': `ui-test-${vm.id.slice(0, 8)}` };
    const once = await json('POST', `/ui/api/instances/${vm.id}/stop`, { headers, body: '{"timeoutSeconds": 5}' });
    assert.equal(once.body.state, 'INSTANCE_STATE_STOPPED');
    const again = await json('POST', `/ui/api/instances/${vm.id}/stop`, { headers, body: '{"timeoutSeconds": 5}' });
    assert.deepEqual([again.status, again.body.state], [200, 'INSTANCE_STATE_STOPPED'], JSON.stringify(again.body));
    const fresh = await json('POST', `/ui/api/instances/${vm.id}/stop`, { body: '{"timeoutSeconds": 5}' });
    assert.deepEqual([fresh.status, fresh.body.code], [400, 'FAILED_PRECONDITION'], 'a new request is a new stop, refused');
    assert.equal((await json('POST', `/ui/api/instances/${vm.id}/start`)).body.state, 'INSTANCE_STATE_RUNNING');
  });

  it('bridges the console WebSocket to AttachConsole: bytes both ways, resize, and a close code that says why', async () => {
    const url = (id: string) => `ws://127.0.0.1:${t.cp.httpPort}/ui/api/instances/${id}/console?cols=100&rows=30`;
    const con = openConsole(url(vm.id));
    await new Promise((r) => con.ws.once('open', r));
    con.ws.send(JSON.stringify({ type: 'resize', cols: 120, rows: 40 }));
    con.ws.send(Buffer.from('echo hv-$((6*7))\n'), { binary: true });
    await until('hv-42', () => con.text.includes('hv-42') || undefined);
    con.ws.send('resize me');
    const bad = await con.closed;
    assert.equal(bad.code, 4000 + 3, 'INVALID_ARGUMENT');
    assert.match(bad.reason, /a text frame must be/);

    const missing = await openConsole(url('nope')).closed;
    assert.equal(missing.code, 4000 + 5);
    assert.match(missing.reason, /NOT_FOUND: instance nope not found/);

    // Open while the instance stops: it closes cleanly; attached to a STOPPED one: refused, and why.
    const across = openConsole(url(vm.id));
    await new Promise((r) => across.ws.once('open', r));
    await call(c, c.stopInstance, { instanceId: vm.id, force: true, timeoutSeconds: 0 });
    assert.equal((await across.closed).code, 1000);
    const refused = await openConsole(url(vm.id)).closed;
    assert.equal(refused.code, 4000 + 9);
    assert.match(refused.reason, /FAILED_PRECONDITION: .*STOPPED; AttachConsole needs a RUNNING/);
    await call(c, c.startInstance, { instanceId: vm.id });
  });
});

describe('web console and server shutdown', function () {
  this.timeout(60_000);
  const t = new TestControlPlane();
  // The test stops the server itself; the rest of the control plane goes here.
  after(async () => {
    await t.nats.stop();
    rmSync(t.dataDir, { recursive: true, force: true });
  });

  it('ends its open watches when the server stops', async () => {
    await t.start();
    const sse = new SseClient(`http://127.0.0.1:${t.cp.httpPort}/ui/api/watch/nodes`);
    await sse.until('start', (e) => e.event === 'start');
    await t.cp.stop();
    await sse.closed();
    assert.ok(sse.ended);
  });
});

describe('web console switched off (--no-ui)', function () {
  this.timeout(60_000);
  const t = new TestControlPlane({ ui: false });
  before(() => t.start());
  after(() => t.stop());

  it('serves nothing under /ui, and the rest of the HTTP port as before', async () => {
    const base = `http://127.0.0.1:${t.cp.httpPort}`;
    assert.equal((await fetch(`${base}/ui/`)).status, 404);
    assert.equal((await fetch(`${base}/ui/api/nodes`)).status, 404);
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
  });
});
