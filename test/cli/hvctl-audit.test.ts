import assert from 'node:assert/strict';
import { nodeIdFor } from '../../src/commands/node/identity';
import YAML from 'yaml';
import { AuditEvent, AuditServiceClient } from '../../src/gen/hypervisor/audit/v1/audit';
import { NodeStatus } from '../../src/gen/hypervisor/v1/common';
import { call, TestControlPlane, until } from '../support/control-plane';
import { listAll } from '../feed/feed-support';
import { hvctl as run, HvctlProcess } from '../support/hvctl';
import { nodeRegistration } from '../support/nodes';
import { UpdateNodeStatusRequest } from '../../src/gen/hypervisor/v1/cluster';

const reg = (hostname: string) => nodeRegistration(hostname, { ip: '10.4.0.1', region: 'cli' });

describe('hvctl (the built CLI against a real server)', function () {
  this.timeout(60_000);
  const t = new TestControlPlane({ leaseTtlSeconds: 3600 });
  const id = nodeIdFor('cli-a');
  const hvctl = (...args: string[]) => run(['--server', t.address, ...args]);
  let history: AuditEvent[];

  before(async () => {
    await t.start();
    const cluster = t.cluster();
    await call(cluster, cluster.registerNode, reg('cli-a'), { 'x-actor': 'alice', 'x-correlation-id': 'corr-cli' });
    await call(cluster, cluster.updateNodeStatus, UpdateNodeStatusRequest.fromPartial({ nodeId: id, status: NodeStatus.NODE_STATUS_MAINTENANCE }), { 'x-actor': 'bob' });
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
    const p = new HvctlProcess(['--server', t.address, '-o', 'json', 'events', '--kind', 'node', '--follow', '--poll', '100']);
    try {
      await until('the history', () => (p.stdout.split('\n').length > history.length ? true : undefined));
      const cluster = t.cluster();
      await call(cluster, cluster.registerNode, reg('cli-follow'));
      const line = await p.line(/cli-follow/);
      assert.equal(JSON.parse(line).type, 'NodeRegistered');
    } finally {
      p.stop();
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
    assert.equal(r.code, 3);
    assert.match(r.stderr, /INVALID_ARGUMENT: aggregate_type: "teapot"/);
    const missing = await hvctl('state', 'node', '00000000-0000-0000-0000-000000000000');
    assert.equal(missing.code, 5);
    assert.match(missing.stderr, /NOT_FOUND/);
    const badTime = await hvctl('events', '--from', 'yesterday-ish');
    assert.equal(badTime.code, 3);
    assert.match(badTime.stderr, /INVALID_ARGUMENT: "yesterday-ish" is neither a time/);
  });

  it('state --at beyond the log\'s head is OUT_OF_RANGE (exit 11), not the current state', async () => {
    const head = history[history.length - 1].revision;
    const past = await hvctl('state', 'node', id, '--at', String(head + 1000n));
    assert.equal(past.code, 11, past.stderr);
    assert.match(past.stderr, new RegExp(`^error: OUT_OF_RANGE: revision: ${head + 1000n} is beyond the log's head \\(\\d+\\)`));
    assert.equal(past.stdout, '');
    const future = await hvctl('state', 'node', id, '--at', new Date(Date.now() + 3_600_000).toISOString());
    assert.equal(future.code, 11);
    assert.match(future.stderr, /OUT_OF_RANGE: time: .* is beyond the log's head/);
    // The head itself still answers.
    const at = await hvctl('state', 'node', id, '--at', String(head), '-o', 'json');
    assert.equal(at.code, 0, at.stderr);
    assert.equal(JSON.parse(at.stdout).revision, String(head));
  });

  it('events -o yaml and -o name, and --limit', async () => {
    const yaml = await hvctl('events', '-k', 'node', '-i', id, '-o', 'yaml');
    const docs = yaml.stdout.split(/^---\n/m).filter((d) => d.trim());
    assert.deepEqual(docs.map((d) => YAML.parse(d).type), history.map((e) => e.type));
    const names = await hvctl('events', '-k', 'node', '-i', id, '-o', 'name', '--limit', '2');
    assert.deepEqual(names.stdout.trim().split('\n'), history.slice(0, 2).map((e) => e.id));
  });
});
