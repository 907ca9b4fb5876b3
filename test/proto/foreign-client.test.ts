import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { TestControlPlane } from '../support/control-plane';

const run = promisify(execFile);
const ROOT = path.join(__dirname, '..', '..', '..');
/** Debian's Python, with its python3-grpcio and python3-protobuf (scripts/setup.sh installs them); not a pyenv or venv one. */
const PYTHON = '/usr/bin/python3';

/**
 * The API as a client from another stack meets it: stubs that stock protoc and gRPC's Python
 * plugin make from proto/ (the published files, not our generated TypeScript), gRPC's C core
 * and BoringSSL with the administrator's certificate, against a server in network mode
 * (mutual TLS). Our own clients share the server's codec, so an encoding both sides get wrong
 * the same way would pass every other test; this one would not.
 */
describe('a client generated in another language (Python, grpcio) against a real server', function () {
  this.timeout(120_000);
  const t = new TestControlPlane({}, { network: true });
  let stubs: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let seen: any;

  before(async () => {
    stubs = mkdtempSync(path.join(os.tmpdir(), 'hv-py-stubs-'));
    const protos = ['grpc/health/v1/health.proto', 'hypervisor/audit/v1/audit.proto', ...['common', 'cluster', 'compute', 'network', 'storage'].map((f) => `hypervisor/v1/${f}.proto`)];
    await run('protoc', ['-I', path.join(ROOT, 'proto'), '-I', '/usr/include', `--python_out=${stubs}`, `--grpc_out=${stubs}`, '--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin', ...protos]);
    await t.start();
    const tls = t.adminTls!;
    const { stdout } = await run(PYTHON, [path.join(ROOT, 'test', 'proto', 'foreign_client.py'), stubs, t.address, tls.ca, tls.cert, tls.key], { timeout: 90_000 });
    seen = JSON.parse(stdout);
  });
  after(async () => {
    await t.stop();
    rmSync(stubs, { recursive: true, force: true });
  });

  it('reaches the server over mutual TLS by its IP address and finds it SERVING (grpc.health.v1)', () => {
    assert.equal(seen.health, 'SERVING');
  });

  it('registers a node and reads it back: 64-bit sizes, enums, maps and timestamps as the proto says', () => {
    assert.match(seen.registered.node_id, /^[0-9a-f-]{36}$/);
    assert.ok(seen.registered.heartbeat_interval_seconds > 0);
    assert.deepEqual(seen.node, {
      hostname: 'py-node-1',
      status: 'NODE_STATUS_READY',
      memory_bytes: 64 * 2 ** 30,
      disk_bytes: 4096 * 2 ** 30,
      labels: { lang: 'python' },
      created_at_seconds: seen.node.created_at_seconds,
    });
    assert.ok(Math.abs(seen.node.created_at_seconds - Date.now() / 1000) < 600, `created_at ${seen.node.created_at_seconds}`);
  });

  it('pages through ListNodes by next_page_token, with a label selector and the total count', () => {
    assert.equal(seen.paged.ids.length, 2);
    assert.ok(seen.paged.ids[0] < seen.paged.ids[1], `pages in id order: ${seen.paged.ids}`);
    assert.deepEqual([...seen.paged.ids].sort(), [seen.registered.node_id, ...seen.paged.ids.filter((i: string) => i !== seen.registered.node_id)].sort());
    assert.equal(seen.paged.pages, 2);
    assert.equal(seen.paged.total_count, 2);
  });

  it('gets the contract\'s codes for what it got wrong, each naming the field', () => {
    assert.equal(seen.unknown_node.code, 'NOT_FOUND');
    assert.equal(seen.no_hostname.code, 'INVALID_ARGUMENT');
    assert.match(seen.no_hostname.details, /hostname/);
    assert.equal(seen.bad_page_token.code, 'INVALID_ARGUMENT');
    assert.match(seen.bad_page_token.details, /page_token/);
    assert.equal(seen.bad_cidr.code, 'INVALID_ARGUMENT');
    assert.match(seen.bad_cidr.details, /cidr/);
  });

  it('watches nodes: the current ones as ADDED, then the one registered after', () => {
    const hosts = seen.watched.map((e: { hostname?: string; error?: string }) => e.hostname ?? e.error);
    assert.deepEqual(hosts.slice(0, 2).sort(), ['py-node-1', 'py-node-2']);
    assert.equal(hosts[hosts.length - 1], 'py-node-3');
    assert.deepEqual([...new Set(seen.watched.map((e: { type: string }) => e.type))], ['EVENT_TYPE_ADDED']);
    const last = seen.watched[seen.watched.length - 1];
    assert.ok(last.revision > seen.watched[0].revision, 'a live change comes at a later revision');
  });

  it('sees the cluster\'s totals over the nodes it registered', () => {
    assert.equal(seen.cluster.total_nodes, 3);
    assert.equal(seen.cluster.memory_bytes, 3 * 64 * 2 ** 30);
  });

  it('makes a network, a subnet and addresses; a retry with the same x-request-id answers as the first, a reused id for another request is INVALID_ARGUMENT', () => {
    assert.equal(seen.network.type, 'NETWORK_TYPE_VXLAN');
    assert.ok(seen.network.vni > 0);
    assert.equal(seen.network.gateway, '10.77.0.1');
    assert.match(seen.allocations.once, /^10\.77\.0\.\d+$/);
    assert.equal(seen.allocations.again, seen.allocations.once);
    assert.notEqual(seen.allocations.other, seen.allocations.once);
    assert.equal(seen.reused_id.code, 'INVALID_ARGUMENT');
    assert.match(seen.reused_id.details, /x-request-id "py-retry-1" was used for another request/);
  });

  it('lists instances and meets ComputeService\'s and StorageService\'s validation', () => {
    assert.deepEqual(seen.instances, { count: 0, total_count: 0 });
    assert.equal(seen.specless_instance.code, 'INVALID_ARGUMENT');
    assert.match(seen.specless_instance.details, /^spec: is required/);
    assert.equal(seen.empty_volume.code, 'INVALID_ARGUMENT');
    assert.match(seen.empty_volume.details, /size_bytes/);
  });

  it('reads the audit trail: the registration by the administrator, its data a Struct, the state at its revision (a oneof)', () => {
    assert.equal(seen.audit.length, 1);
    const [registered] = seen.audit;
    assert.equal(registered.type, 'NodeRegistered');
    assert.equal(registered.data.hostname, 'py-node-1');
    assert.equal(registered.data.capacity.memoryBytes, 64 * 2 ** 30);
    assert.match(registered.actor, /admin/);
    assert.deepEqual(seen.state_at, { exists: true, revision: registered.revision, hostname: 'py-node-1' });
  });
});
