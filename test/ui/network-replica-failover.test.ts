import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { credentials, type ServiceError, status } from '@grpc/grpc-js';
import type { Page } from 'playwright-core';
import { AuditServiceClient, ListEventsRequest } from '../../src/gen/hypervisor/audit/v1/audit';
import { IdentityServiceClient, Role } from '../../src/gen/hypervisor/iam/v1/iam';
import { ClusterServiceClient } from '../../src/gen/hypervisor/v1/cluster';
import { InstanceType } from '../../src/gen/hypervisor/v1/common';
import { ComputeServiceClient } from '../../src/gen/hypervisor/v1/compute';
import { TestBrowser } from '../support/browser';
import { createRequest, MiB } from '../support/compute';
import { call } from '../support/control-plane';
import { TestNats } from '../support/nats';
import { NetworkReplica } from '../support/network-replica';
import { nodeRegistration } from '../support/nodes';
import { until } from '../support/until';

/**
 * Issue 24, item 4 for the web console in network mode: a user logs in
 * through replica A (`hvctl ui login`'s one-time URL); A dies (kill -9);
 * the page's watch resumes on replica B with what changed meanwhile, and an
 * action from the page works there, as that user, without a new login (the
 * session lives in the replicas' shared bucket, and the cookie goes to B).
 */
describe('web console in network mode: its session and watches move to another replica when theirs dies (real Chromium, two real replicas)', function () {
  this.timeout(180_000);
  const nats = new TestNats();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hv-ui-net-replicas-'));
  const browser = new TestBrowser({ ignoreHttpsErrors: true });
  const fast = ['--singleton-lease-ttl', '3', '--feed-lease-ttl', '3'];
  let a: NetworkReplica;
  let b: NetworkReplica;
  let page: Page;

  before(async () => {
    await nats.start();
    a = await new NetworkReplica(nats.url, path.join(dir, 'a'), undefined, fast).start();
    // One cluster: B's certificates are of A's CA.
    b = await new NetworkReplica(nats.url, path.join(dir, 'b'), a.pkiDir, fast).start();
    await browser.start();
    page = await browser.page();
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.log(browser.log.slice(-30).join('\n'), a.log.slice(-3000), b.log.slice(-3000));
  });
  after(async () => {
    await browser.stop();
    await Promise.all([a?.stop(), b?.stop()]);
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const nodeRow = (id: string) => `#view tr[data-node-id="${id}"]`;
  const live = () => page.$eval('#live', (el) => ({ ...(el as unknown as { dataset: Record<string, string> }).dataset }));

  it('logs in through A, and after kill -9 of A the watch resumes on B, an action works there as the same user, and Log out ends the session', async () => {
    // Alice, an operator, with her own certificate: her session is hers, not the administrator's.
    const iam = a.admin(IdentityServiceClient);
    await call(iam, iam.createUser, { name: 'alice', role: Role.ROLE_OPERATOR, tenant: '' });
    const cert = await call(iam, iam.issueCertificate, { name: 'alice', csrPem: '', validDays: 0 });
    iam.close();
    const asAlice = new IdentityServiceClient(`localhost:${a.grpcPort}`, credentials.createSsl(readFileSync(a.caFile), Buffer.from(cert.privateKeyPem), Buffer.from(cert.certificatePem)));
    const { url } = await call(asAlice, asAlice.createConsoleLogin, {});
    asAlice.close();

    const cluster = b.admin(ClusterServiceClient);
    const compute = b.admin(ComputeServiceClient);
    const audit = b.admin(AuditServiceClient);
    try {
      const { nodeId: before } = await call(cluster, cluster.registerNode, nodeRegistration('ui-net-before'));
      // The login URL opened on A (its path: the host it names is this machine's address, A's console listens on loopback).
      const login = new URL(url);
      await page.goto(`https://${a.console}${login.pathname}${login.search}`);
      assert.equal(new URL(page.url()).pathname, '/ui/', 'the login took: the page is the console');
      // Both replicas registered before the page reads the list (it reads it as it loads).
      await until('both replicas listed', async () => {
        const got = (await page.evaluate(`fetch('/ui/api/replicas').then((r) => r.json())`)) as { replicas?: string[] };
        return [a.console, b.console].every((h) => got.replicas?.includes(h));
      }, 30_000);
      await page.goto(`https://${a.console}/ui/#/nodes`);
      await page.waitForSelector(nodeRow(before));
      await until('the page live on A', async () => (await live()).live === 'live' && (await live()).replica === a.console, 30_000);

      await a.kill9();
      // Changed while A is gone, through B: one node more, one fewer.
      const { nodeId: added } = await retried(() => call(cluster, cluster.registerNode, nodeRegistration('ui-net-during'), { 'x-request-id': 'ui-net-during' }));
      await retried(() => call(cluster, cluster.deregisterNode, { nodeId: before }, { 'x-request-id': 'ui-net-deregister' }));
      await page.waitForSelector(nodeRow(added), { timeout: 60_000 });
      await page.waitForSelector(nodeRow(before), { state: 'detached', timeout: 60_000 });
      const now = await live();
      assert.equal(now.replica, b.console, 'the watch is on B');
      assert.equal(now.resumed, 'true', 'it resumed from its revision rather than starting over with a snapshot');

      // An action from the page, on B: Delete, which the page sends to B (A does not answer) with the session made on A.
      const inst = await retried(() => call(compute, compute.createInstance, createRequest('ui-net-vm', InstanceType.INSTANCE_TYPE_VM, { kernel: 'http://198.18.0.1:1/vmlinuz', cpuCores: 1, memoryBytes: 64 * MiB }), { 'x-request-id': 'ui-net-vm' }));
      await page.evaluate(`location.hash = '#/instances'`);
      const row = `#instances tr[data-instance-id="${inst.id}"]`;
      await page.waitForSelector(row, { timeout: 30_000 });
      page.once('dialog', (d) => void d.accept());
      await page.click(`${row} button[data-action="delete"]`);
      const byAlice = await until('the delete stored, done as alice', async () => {
        const { events } = await call(audit, audit.listEvents, ListEventsRequest.fromPartial({ aggregateType: 'instance', aggregateId: inst.id, pageSize: 100 }));
        return events.find((e) => /^InstanceDelet/.test(e.type));
      }, 30_000);
      assert.equal(byAlice.actor, 'user:alice', 'the session made on A acts on B as the user who logged in');
      assert.ok(!(await page.content()).includes('hvctl ui login'), 'the page never asked to log in again');

      // Log out from the page, A still dead: B ends the session (for every replica) and the browser drops its cookie.
      const [session] = (await page.context().cookies()).filter((c) => c.name === 'hv_session');
      assert.ok(session, 'the page has its session cookie');
      await page.click('#logout');
      await page.waitForSelector('#logged-out', { timeout: 10_000 });
      assert.deepEqual((await page.context().cookies()).filter((c) => c.name === 'hv_session'), []);
      assert.equal(await statusOf(b, '/ui/api/cluster', `hv_session=${session.value}`), 401, 'the session is over on B too');
    } finally {
      cluster.close();
      compute.close();
      audit.close();
    }
  });
});

/** The HTTP status of a GET to a replica's console with `cookie`, over its TLS. */
const statusOf = (r: NetworkReplica, path: string, cookie: string): Promise<number> =>
  new Promise((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port: r.httpPort, path, ca: readFileSync(r.caFile), servername: 'localhost', headers: { cookie } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
      .on('error', reject);
  });

/** The call, again while it is UNAVAILABLE (the same request id each time, so it is done once). */
const retried = <T>(send: () => Promise<T>): Promise<T> =>
  until('the write acknowledged', () => send().catch((e: ServiceError) => {
    if (e.code === status.UNAVAILABLE) return undefined;
    throw e;
  }), 60_000);
