import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { IdentityServiceClient } from '../../src/gen/hypervisor/iam/v1/iam';
import { csrFor } from '../../src/pki/csr';
import { newKey } from '../../src/pki/openssl';
import { call, TestControlPlane, until } from '../support/control-plane';
import { nodeRegistration } from '../support/nodes';

const run = promisify(execFile);
const ROOT = path.join(__dirname, '..', '..', '..');

interface Seen {
  readonly messages: { subject: string; headers: Record<string, string>; body: Record<string, unknown> & { data: Record<string, unknown> } }[];
  readonly denied: string[];
  readonly error?: string;
}

/**
 * The feed as an integrator outside this stack reads it: NATS's wire protocol from Python's
 * socket and OpenSSL (test/feed/foreign_consumer.py), with the certificate
 * CreateFeedCredentials issued for its own key, against a server in network mode (its
 * embedded NATS confined: TLS, identities mapped from certificates).
 */
describe('the integration feed read by a consumer from another stack (raw NATS protocol, Python, OpenSSL)', function () {
  this.timeout(90_000);
  const t = new TestControlPlane({}, { network: true });
  let dir: string;
  let seen: Seen;
  let ids: string[];
  let consumer: string;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'hv-integrator-'));
    await t.start();
    // The integrator's key never leaves it: the administrator sends its CSR.
    const key = await newKey();
    const identity = t.client(IdentityServiceClient);
    const made = await call(identity, identity.createFeedCredentials, { name: 'billing', filter: 'hv.events.v1.node.>', csrPem: await csrFor(key, 'feed:billing') });
    assert.equal(made.privateKeyPem, '', 'a CSR gets no key back');
    consumer = made.consumer;
    const file = (name: string, pem: string) => {
      writeFileSync(path.join(dir, name), pem, { mode: 0o600 });
      return path.join(dir, name);
    };
    const files = [file('ca.crt', made.caCertificatePem), file('billing.crt', made.certificatePem), file('billing.key', key)];

    const cluster = t.cluster();
    ids = [];
    for (const host of ['feed-host-1', 'feed-host-2']) ids.push((await call(cluster, cluster.registerNode, nodeRegistration(host))).nodeId);
    const { stdout } = await run('/usr/bin/python3', [path.join(ROOT, 'test', 'feed', 'foreign_consumer.py'), made.natsUrl, ...files, made.inboxPrefix, consumer, '2'], { timeout: 60_000 });
    seen = JSON.parse(stdout) as Seen;
  });
  after(async () => {
    await t.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('connects over TLS with its certificate and pulls its consumer: each node registered, in order, as the feed page documents it', () => {
    assert.equal(seen.error, undefined);
    assert.deepEqual(seen.messages.map((m) => m.subject), ids.map((id) => `hv.events.v1.node.${id}.NodeRegistered`));
    for (const [i, m] of seen.messages.entries()) {
      assert.equal(m.headers['Nats-Msg-Id'], m.body.id);
      assert.equal(m.headers['Hv-Revision'], m.body.revision);
      assert.match(String(m.body.revision), /^\d+$/, 'a uint64 in proto3 JSON: a decimal string');
      assert.equal(m.body.type, 'NodeRegistered');
      assert.equal(m.body.aggregateType, 'node');
      assert.equal(m.body.aggregateId, ids[i]);
      assert.equal(m.body.data.hostname, `feed-host-${i + 1}`);
    }
    assert.ok(Number(seen.messages[1].body.revision) > Number(seen.messages[0].body.revision));
  });

  it('its acks are taken: the durable consumer has nothing pending', async () => {
    const jsm = await (await t.connectNats()).jetstreamManager();
    await until('the acks taken', async () => {
      const info = await jsm.consumers.info('HV_EVENTS', consumer);
      return info.num_ack_pending === 0 && info.num_pending === 0 ? info : undefined;
    });
  });

  it('its certificate does not let it subscribe to the feed\'s subjects directly', () => {
    assert.equal(seen.denied.length, 1);
    assert.match(seen.denied[0], /Permissions Violation for Subscription to "hv\.events\.v1\.>"/);
  });
});
