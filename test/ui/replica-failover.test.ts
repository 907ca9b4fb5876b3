import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { credentials, type ServiceError, status } from '@grpc/grpc-js';
import type { Page } from 'playwright-core';
import WebSocket from 'ws';
import { ClusterServiceClient } from '../../src/gen/hypervisor/v1/cluster';
import { InstanceType } from '../../src/gen/hypervisor/v1/common';
import { ComputeServiceClient } from '../../src/gen/hypervisor/v1/compute';
import { createRequest, MiB } from '../support/compute';
import { TestBrowser } from '../support/browser';
import { call } from '../support/control-plane';
import { TestNats } from '../support/nats';
import { nodeRegistration } from '../support/nodes';
import { ServerProcess } from '../support/server-process';
import { until } from '../support/until';

/**
 * Issue 24, item 4 for the web console: a page loaded from one server
 * replica keeps its watches when that replica dies (kill -9): they go to the
 * next replica the registry named, resume there from their last revision,
 * and show what changed meanwhile (a node added, a node removed).
 */
describe('web console: its watches move to another server replica when theirs dies (real Chromium, two real replicas)', function () {
  this.timeout(180_000);
  const nats = new TestNats();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hv-ui-replicas-'));
  const replicas: ServerProcess[] = [];
  const browser = new TestBrowser();
  let page: Page;
  let b: ClusterServiceClient;

  before(async () => {
    await nats.start();
    for (let i = 0; i < 2; i++) replicas.push(await new ServerProcess(nats.url, ['--singleton-lease-ttl', '3', '--feed-lease-ttl', '3', '--data-dir', path.join(dir, `server-${i}`)]).start());
    b = new ClusterServiceClient(replicas[1].address, credentials.createInsecure());
    await browser.start();
    page = await browser.page();
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.log(browser.log.slice(-30).join('\n'));
  });
  after(async () => {
    b?.close();
    await browser.stop();
    await Promise.all(replicas.map((r) => r.stop()));
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const row = (id: string) => `#view tr[data-node-id="${id}"]`;
  const live = () => page.$eval('#live', (el) => ({ ...(el as unknown as { dataset: Record<string, string> }).dataset }));

  it('lists every replica\'s console at /ui/api/replicas', async () => {
    const hosts = replicas.map((r) => `127.0.0.1:${r.httpPort}`);
    await until('both replicas in the registry', async () => {
      const got = ((await (await fetch(`http://${hosts[0]}/ui/api/replicas`)).json()) as { replicas: string[] }).replicas;
      return hosts.every((h) => got.includes(h));
    }, 30_000);
  });

  it('admits a watch from a page of another replica, and refuses one from any other site', async () => {
    const url = `ws://127.0.0.1:${replicas[1].httpPort}/ui/api/watch/nodes`;
    assert.equal(await upgrade(url, `http://127.0.0.1:${replicas[0].httpPort}`), 101);
    assert.equal(await upgrade(url, 'http://evil.example'), 403);
  });

  it('resumes the node watch on the other replica after kill -9 of the page\'s own, with the changes made meanwhile', async () => {
    const a = `127.0.0.1:${replicas[0].httpPort}`;
    const other = `127.0.0.1:${replicas[1].httpPort}`;
    const { nodeId: before } = await call(b, b.registerNode, nodeRegistration('ui-before'));
    await page.goto(`http://${a}/ui/#/nodes`);
    await page.waitForSelector(row(before));
    await until('the page live on its own replica', async () => (await live()).live === 'live' && (await live()).replica === a, 30_000);
    // The page read the list of replicas as it loaded; the first test made sure both were in it by then.
    await replicas[0].kill9();
    // Changed while the page's replica is gone: one node more, one fewer.
    // Written through the live replica as any client does: UNAVAILABLE while the dead one's command handler is taken over, retried with its request id.
    const { nodeId: added } = await retried(() => call(b, b.registerNode, nodeRegistration('ui-during'), { 'x-request-id': 'ui-during' }));
    await retried(() => call(b, b.deregisterNode, { nodeId: before }, { 'x-request-id': 'ui-deregister' }));
    await page.waitForSelector(row(added), { timeout: 60_000 });
    await page.waitForSelector(row(before), { state: 'detached', timeout: 60_000 });
    const now = await live();
    assert.equal(now.replica, other, 'the watch is on the other replica');
    assert.equal(now.resumed, 'true', 'it resumed from its revision rather than starting over with a snapshot');
    assert.equal(now.live, 'live');
  });

  it('answers the page\'s own calls (an instance\'s history) from the other replica while the page\'s is dead', async () => {
    const compute = new ComputeServiceClient(replicas[1].address, credentials.createInsecure());
    try {
      const created = await retried(() => call(compute, compute.createInstance, createRequest('ui-history', InstanceType.INSTANCE_TYPE_VM, { kernel: 'http://198.18.0.1:1/vmlinuz', cpuCores: 1, memoryBytes: 64 * MiB }), { 'x-request-id': 'ui-history' }));
      // The page was loaded from the replica killed above: its fetches go to the other one.
      await page.evaluate(`location.hash = '#/instances/${created.id}'`);
      await page.waitForSelector('.history tr[data-event-type="InstanceRequested"]', { timeout: 30_000 });
    } finally {
      compute.close();
    }
  });
});

/** The HTTP status a WebSocket handshake from a page of `origin` gets: 101 when it is taken. */
const upgrade = (url: string, origin: string): Promise<number> =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { origin });
    ws.on('open', () => {
      ws.close();
      resolve(101);
    });
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('error', (e) => reject(e));
  });

/** The call, again while it is UNAVAILABLE (the same request id each time, so it is done once). */
const retried = <T>(send: () => Promise<T>): Promise<T> =>
  until('the write acknowledged', () => send().catch((e: ServiceError) => {
    if (e.code === status.UNAVAILABLE) return undefined;
    throw e;
  }), 60_000);
