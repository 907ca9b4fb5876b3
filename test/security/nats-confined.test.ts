import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AckPolicy, connect, type NatsConnection, type NatsError, StringCodec } from 'nats';
import pino from 'pino';
import { Subject } from 'rxjs';
import { consumerName, nodeInbox, WORK_STREAM, workSubject } from '../../src/agent/protocol';
import { ensureNodeConsumer, ensureWorkStream } from '../../src/agent/work-stream';
import { reportSubject } from '../../src/bus/subjects';
import { nodeIdFor } from '../../src/commands/node/identity';
import type { NodeIdentityState } from '../../src/commands/node_identity';
import { EmbeddedNatsServer } from '../../src/nats/embedded-nats-server';
import { issue, publicKeyOf } from '../../src/pki/cluster-ca';
import { type ClusterPki, ensureClusterPki } from '../../src/pki/cluster-pki';
import { newKey } from '../../src/pki/openssl';
import { ConfinedNats, natsIdentities } from '../../src/server/security/confined-nats';
import { until } from '../support/until';

const sc = StringCodec();
const joined = (...hosts: string[]): NodeIdentityState[] => hosts.map((id) => ({ id, exists: true, certificates: [] }));

/**
 * The embedded nats-server as network mode runs it (TLS, verify_and_map,
 * the authorization block made from the node identities), with a node's
 * certificate: what it may and may not do. Every refusal is NATS's own
 * permissions violation.
 */
describe('NATS confined per identity (verify_and_map)', function () {
  this.timeout(60_000);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hv-nats-confined-'));
  let pki: ClusterPki;
  let nats: EmbeddedNatsServer;
  let confined: ConfinedNats;
  let cp: NatsConnection;
  const conns: NatsConnection[] = [];
  const A = nodeIdFor('host-a');
  const B = nodeIdFor('host-b');

  const as = async (cn: string, inbox?: string) => {
    const key = await newKey();
    const cert = await issue(pki.ca, { commonName: cn, publicKeyPem: await publicKeyOf(key), days: 1, usage: 'node' });
    const nc = await connect({ servers: `nats://127.0.0.1:${nats.port}`, tls: { ca: pki.ca.certPem, cert, key }, ...(inbox ? { inboxPrefix: inbox } : {}), reconnect: false });
    conns.push(nc);
    return nc;
  };
  const violation = (e: unknown, subject: RegExp) => {
    assert.equal((e as NatsError).code, 'PERMISSIONS_VIOLATION', String(e));
    assert.match((e as Error).message, subject);
    return true;
  };

  before(async () => {
    pki = await ensureClusterPki({ dataDir: dir, sans: [] });
    confined = new ConfinedNats(ConfinedNats.fileIn(dir), path.join(dir, 'js'), pki, () => nats.reload(), pino({ level: 'silent' }));
    confined.write(natsIdentities(joined('host-a', 'host-b'), [{ id: 'billing', exists: true, consumer: 'feed-billing', filter: 'hv.events.v1.instance.>' }]));
    nats = await EmbeddedNatsServer.start({ dataDir: path.join(dir, 'js'), configFile: confined.file });
    cp = await connect({ servers: `nats://127.0.0.1:${nats.port}`, tls: { ca: pki.ca.certPem, cert: pki.controlPlane.certPem, key: pki.controlPlane.keyPem } });
    conns.push(cp);
    const jsm = await cp.jetstreamManager();
    await ensureWorkStream(jsm);
    await ensureNodeConsumer(jsm, A);
    await ensureNodeConsumer(jsm, B);
    await jsm.streams.add({ name: 'HV_LOG', subjects: ['hv.log.>'] });
    await jsm.streams.add({ name: 'HV_EVENTS', subjects: ['hv.events.v1.>'] });
    await jsm.consumers.add('HV_EVENTS', { durable_name: 'feed-billing', filter_subject: 'hv.events.v1.instance.>', ack_policy: AckPolicy.Explicit });
    await cp.jetstream().publish('hv.events.v1.instance.i-1.InstanceCreated', sc.encode('an instance event'));
    await cp.jetstream().publish('hv.events.v1.network.n-1.NetworkCreated', sc.encode('a network event'));
    await cp.jetstream().publish(workSubject(B, 'i-b'), sc.encode('work for B'));
    await cp.jetstream().publish(workSubject(A, 'i-a'), sc.encode('work for A'));
  });
  after(async () => {
    for (const c of conns) await c.close().catch(() => undefined);
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the configuration is 0600 and maps each certificate by its subject, loopback included', async () => {
    assert.equal(statSync(confined.file!).mode & 0o777, 0o600);
    const conf = readFileSync(confined.file!, 'utf8');
    assert.match(conf, /verify_and_map: true/);
    assert.match(conf, /user: "CN=node:host-a"/);
    // No certificate: refused at the TLS handshake.
    await assert.rejects(connect({ servers: `nats://127.0.0.1:${nats.port}`, tls: { ca: pki.ca.certPem }, reconnect: false }));
    // A certificate of the CA that names no user of the block.
    await assert.rejects(as('node:stranger'), /Authorization Violation/i);
  });

  it("node A pulls its own work, with its own inbox", async () => {
    const a = await as('node:host-a', nodeInbox(A));
    const consumer = await a.jetstream().consumers.get(WORK_STREAM, consumerName(A));
    const m = await consumer.next({ expires: 5_000 });
    assert.equal(sc.decode(m!.data), 'work for A');
    m!.ack();
  });

  it("node A may not subscribe to B's work, pull B's consumer, read the event log, publish a command, or use another inbox", async () => {
    const a = await as('node:host-a', nodeInbox(A));
    const denied = new Promise<unknown>((resolve) => a.subscribe(`hv.agent.${B}.>`, { callback: (err) => resolve(err) }));
    violation(await denied, /Permissions Violation for Subscription to "hv\.agent\./);
    await assert.rejects(a.jetstream().consumers.get(WORK_STREAM, consumerName(B)), (e) => violation(e, new RegExp(`CONSUMER\\.INFO\\.${WORK_STREAM}\\.${consumerName(B)}`)));
    await assert.rejects(a.request(`$JS.API.CONSUMER.MSG.NEXT.${WORK_STREAM}.${consumerName(B)}`, sc.encode('{"batch":1}'), { timeout: 2_000 }), (e) => violation(e, /MSG\.NEXT/));
    await assert.rejects(a.request('$JS.API.STREAM.INFO.HV_LOG', undefined, { timeout: 2_000 }), (e) => violation(e, /STREAM\.INFO\.HV_LOG/));
    const logSub = new Promise<unknown>((resolve) => a.subscribe('hv.log.>', { callback: (err) => resolve(err) }));
    violation(await logSub, /hv\.log/);
    await assert.rejects(a.request('hv.cmd.instance', sc.encode('{}'), { timeout: 2_000 }), (e) => violation(e, /Publish to "hv\.cmd\.instance"/));
    await assert.rejects(a.request(reportSubject(B, 'instance'), sc.encode('{}'), { timeout: 2_000 }), (e) => violation(e, /hv\.report\./));
    // B's work is still there for B.
    const info = await (await cp.jetstreamManager()).consumers.info(WORK_STREAM, consumerName(B));
    assert.equal(info.num_pending, 1);
  });

  it("an integrator pulls its own consumer on HV_EVENTS and nothing else: not the log, not another consumer, not a node's work", async () => {
    const f = await as('feed:billing', '_INBOX_feed_billing');
    const consumer = await f.jetstream().consumers.get('HV_EVENTS', 'feed-billing');
    const m = await consumer.next({ expires: 5_000 });
    assert.equal(sc.decode(m!.data), 'an instance event', 'its filter holds instance events only');
    m!.ack();
    await assert.rejects(f.request('$JS.API.STREAM.INFO.HV_LOG', undefined, { timeout: 2_000 }), (e) => violation(e, /HV_LOG/));
    await assert.rejects(f.jetstream().consumers.get(WORK_STREAM, consumerName(A)), (e) => violation(e, /CONSUMER\.INFO\.HV_AGENT_WORK/));
    const sub = new Promise<unknown>((resolve) => f.subscribe('hv.events.v1.>', { callback: (err) => resolve(err) }));
    violation(await sub, /Subscription to "hv\.events\.v1\.>"/);
    await assert.rejects(f.request('$JS.API.CONSUMER.CREATE.HV_EVENTS.mine', sc.encode('{}'), { timeout: 2_000 }), (e) => violation(e, /CONSUMER\.CREATE/));
  });

  it('a node revoked (left out of the block) is disconnected on reload; the others keep their connections', async () => {
    const a = await as('node:host-a', nodeInbox(A));
    const b = await as('node:host-b', nodeInbox(B));
    const closed = a.closed();
    assert.equal(confined.write(natsIdentities(joined('host-b'))), true);
    nats.reload();
    await closed;
    assert.equal(a.isClosed(), true);
    await until('the reload settled', async () => (await b.rtt().then(() => true, () => false)) || undefined, 10_000);
    assert.equal(b.isClosed(), false);
    assert.equal(cp.isClosed(), false);
    await assert.rejects(as('node:host-a'), /Authorization Violation/i);
    // JetStream survived the reload (the configuration file carries it, not only the flag).
    assert.equal((await (await cp.jetstreamManager()).consumers.info(WORK_STREAM, consumerName(B))).num_pending, 1);
  });

  it('makes a joined node\'s work consumer even when JetStream does not answer the first passes (tried again, not left for the next join)', async () => {
    const C = nodeIdFor('host-c');
    const changes$ = new Subject<unknown>();
    let failures = 0;
    const follower = confined.follow(
      { list: () => joined('host-b', 'host-c'), changes$ },
      { list: () => [], changes$ },
      async () => {
        // What a reload on a slow host looks like to the control plane: its JetStream requests time out.
        if (failures < 2) throw new Error(`JetStream did not answer (${++failures})`);
        return cp.jetstreamManager();
      },
      { firstMs: 50, maxMs: 200 },
    );
    try {
      const info = await until('the consumer of host-c', () => cp.jetstreamManager().then((m) => m.consumers.info(WORK_STREAM, consumerName(C))).catch(() => undefined), 10_000);
      assert.equal(info.config.filter_subject, `hv.agent.${C}.>`);
      assert.equal(failures, 2);
    } finally {
      follower.unsubscribe();
    }
  });
  it("on a NATS given with --nats-url tls:// (an operator's, or another replica's) it makes a joined node's work consumer and writes no authorization", async () => {
    const D = nodeIdFor('host-d');
    const before = readFileSync(confined.file!, 'utf8');
    const given = ConfinedNats.given(pki, pino({ level: 'silent' }));
    assert.equal(given.file, undefined);
    const changes$ = new Subject<unknown>();
    const follower = given.follow({ list: () => joined('host-d'), changes$ }, { list: () => [], changes$ }, () => cp.jetstreamManager(), { firstMs: 50, maxMs: 200 });
    try {
      const info = await until('the consumer of host-d', () => cp.jetstreamManager().then((m) => m.consumers.info(WORK_STREAM, consumerName(D))).catch(() => undefined), 10_000);
      assert.equal(info.config.filter_subject, `hv.agent.${D}.>`);
      assert.equal(readFileSync(confined.file!, 'utf8'), before, 'the NATS configuration is not this follower\'s to write');
    } finally {
      follower.unsubscribe();
    }
  });
});
