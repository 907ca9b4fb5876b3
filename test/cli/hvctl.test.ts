import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { nodeIdFor } from '../../src/commands/node/identity';
import { AuditEvent, AuditServiceClient } from '../../src/gen/hypervisor/audit/v1/audit';
import { NodeStatus } from '../../src/gen/hypervisor/v1/common';
import type { ProjectionRuntime } from '../../src/projections/projection-runtime';
import { call, TestControlPlane, until } from '../support/control-plane';
import { listAll } from '../feed/feed-support';
import { nodeRegistration } from '../support/nodes';

const HVCTL = path.join(__dirname, '..', '..', 'src', 'cli', 'hvctl.js');
const reg = (hostname: string) => nodeRegistration(hostname, { ip: '10.4.0.1', region: 'cli' });

describe('hvctl (the built CLI against a real server)', function () {
  this.timeout(60_000);
  const t = new TestControlPlane({ leaseTtlSeconds: 3600 });
  const id = nodeIdFor('cli-a');
  const hvctl = (...args: string[]) =>
    promisify(execFile)(process.execPath, [HVCTL, '--server', t.address, ...args], { timeout: 20_000 }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );
  let history: AuditEvent[];

  before(async () => {
    await t.start();
    const cluster = t.cluster();
    await call(cluster, cluster.registerNode, reg('cli-a'), { 'x-actor': 'alice', 'x-correlation-id': 'corr-cli' });
    await call(cluster, cluster.updateNodeStatus, { nodeId: id, status: NodeStatus.NODE_STATUS_MAINTENANCE, conditions: [], allocated: undefined }, { 'x-actor': 'bob' });
    await call(cluster, cluster.deregisterNode, { nodeId: id }, { 'x-actor': 'carol' });
    history = await listAll(t.client(AuditServiceClient), { aggregateType: 'node', aggregateId: id });
  });
  after(() => t.stop());

  it('events: a table, oldest first, with the filters', async () => {
    const r = await hvctl('events', '--kind', 'node', '--id', id);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0], /^REVISION\s+TIME\s+KIND\s+ID\s+TYPE\s+ACTOR\s+CORRELATION$/);
    assert.deepEqual(lines.slice(1).map((l) => l.split(/\s+/)[4]), history.map((e) => e.type));
    assert.match(lines[1], /NodeRegistered\s+alice\s+corr-cli/);
    const bob = await hvctl('events', '--kind', 'node', '--actor', 'bob', '-o', 'json');
    assert.deepEqual(bob.stdout.trim().split('\n').map((l) => JSON.parse(l).type), ['NodeStatusChanged', 'NodeCommandIssued']);
    const types = await hvctl('events', '--type', 'NodeDeregistered', '--since', String(history[0].revision), '-o', 'json');
    assert.deepEqual(types.stdout.trim().split('\n').map((l) => JSON.parse(l).actor), ['carol']);
  });

  it('events -o json: one AuditEvent per line, as ListEvents gives it', async () => {
    const r = await hvctl('events', '-k', 'node', '-i', id, '-o', 'json');
    assert.deepEqual(r.stdout.trim().split('\n').map((l) => JSON.parse(l)), history.map((e) => AuditEvent.toJSON(e)));
  });

  it('events --follow prints new events as they are committed', async () => {
    const child = spawn(process.execPath, [HVCTL, '--server', t.address, '-o', 'json', 'events', '--kind', 'node', '--follow', '--poll', '100']);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    try {
      await until('the history', () => (out.split('\n').length > history.length ? true : undefined));
      const cluster = t.cluster();
      await call(cluster, cluster.registerNode, reg('cli-follow'));
      const line = await until('the new event', () => out.split('\n').find((l) => l.includes('cli-follow')));
      assert.equal(JSON.parse(line).type, 'NodeRegistered');
    } finally {
      child.kill();
    }
  });

  it('state: the resource at a revision, at a time, and now', async () => {
    const at = await hvctl('state', 'node', id, '--at', String(history[0].revision), '-o', 'json');
    const s = JSON.parse(at.stdout);
    assert.deepEqual([s.exists, s.revision, s.state.hostname, s.state.status], [true, String(history[0].revision), 'cli-a', 'NODE_STATUS_READY']);
    const byTime = JSON.parse((await hvctl('state', 'node', id, '--at', history[1].time!.toISOString(), '-o', 'json')).stdout);
    assert.equal(byTime.state.status, 'NODE_STATUS_MAINTENANCE');
    const now = await hvctl('state', 'node', id);
    assert.match(now.stdout, /^KIND\s+ID\s+EXISTS\s+REVISION\s+TIME/);
    assert.match(now.stdout, /false/);
    assert.match(now.stdout, /deleted at that point/);
    const table = await hvctl('state', 'node', id, '--at', String(history[0].revision));
    assert.match(table.stdout, /"hostname": "cli-a"/);
  });

  it('reports a bad request with its code and a non-zero exit', async () => {
    const r = await hvctl('state', 'teapot', id);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /INVALID_ARGUMENT: aggregate_type: "teapot"/);
    const missing = await hvctl('state', 'node', '00000000-0000-0000-0000-000000000000');
    assert.match(missing.stderr, /NOT_FOUND/);
    const badTime = await hvctl('events', '--from', 'yesterday-ish');
    assert.equal(badTime.code, 1);
    assert.match(badTime.stderr, /neither a time/);
  });

  it('verify: exits 0 when every read model matches the log, 1 naming the first difference when one does not', async () => {
    const ok = await hvctl('verify', '--nats-url', t.nats.url);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^ok: nodes \(\d+\) rebuilt to revision \d+ match the server/);
    // Corrupt the running server's read model (a change that is not in the log).
    const runtime = (t.cp as unknown as { projections: ProjectionRuntime }).projections;
    const cluster = t.cluster();
    await call(cluster, cluster.registerNode, reg('cli-b'));
    const b = nodeIdFor('cli-b');
    const fake = runtime.position + 1_000_000;
    for (const m of runtime.models)
      m.applyCommit([
        {
          id: 'forged',
          type: 'NodeStatusChanged',
          data: { from: 'READY', to: 'DRAINING', reason: 'not in the log' },
          schemaVersion: 1,
          meta: { actor: 'x', correlationId: 'x', causationId: 'x' },
          aggregateType: 'node',
          aggregateId: b,
          revision: fake,
          index: 0,
          commitId: 'forged',
          time: new Date(),
        },
      ]);
    const bad = await hvctl('verify', '--nats-url', t.nats.url);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, new RegExp(`first difference: nodes/${b}: status: server has "NODE_STATUS_DRAINING", the log gives "NODE_STATUS_READY"`));
  });
});
