import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import type { Agent } from '../../src/agent/agent';
import { nodeIdFor } from '../../src/commands/node/identity';
import { ClusterServiceClient, ListNodesRequest, Node, UpdateNodeStatusRequest } from '../../src/gen/hypervisor/v1/cluster';
import { InstanceState, NodeStatus } from '../../src/gen/hypervisor/v1/common';
import { ComputeServiceClient, Instance } from '../../src/gen/hypervisor/v1/compute';
import { InstanceWatch } from '../support/compute';
import { call } from '../support/control-plane';
import { hvctl, HvctlProcess, isolatedEnv } from '../support/hvctl';
import { ImageServer } from '../support/image-server';
import { Net } from '../network/support';
import { nodeRegistration } from '../support/nodes';
import { OneNodeLab } from '../support/one-node-lab';

const GiB = 2 ** 30;

describe('hvctl: nodes, cluster and instances (the built CLI against a real server and a hollow agent)', function () {
  this.timeout(90_000);
  const token = randomBytes(2).toString('hex');
  const host = `hvt${token}-host`;
  const lab = new OneNodeLab({ leaseTtlSeconds: 3600 });
  const { t } = lab;
  let agent: Agent;
  let images: ImageServer;
  let compute: ComputeServiceClient;
  let cluster: ClusterServiceClient;
  let watch: InstanceWatch;
  const hv = (...args: string[]) => hvctl(['--server', t.address, ...args]);
  const kernel = () => images.url('vmlinuz');

  before(async () => {
    ({ images, agent, c: compute, watch } = await lab.start({ driver: 'hollow', hostname: host, capacity: { cpuCores: 8, memoryBytes: 16 * GiB, diskBytes: 100 * GiB } }));
    cluster = t.cluster();
  });
  after(() => lab.stop());

  const listNodes = async () => (await call(cluster, cluster.listNodes, ListNodesRequest.fromPartial({ pageSize: 100 }))).nodes;
  const nodeId = () => nodeIdFor(host);

  describe('node', () => {
    it('list: an aligned table with human units, and json / yaml / name', async () => {
      const table = await hv('node', 'list');
      assert.equal(table.code, 0, table.stderr);
      const [header, ...rows] = table.stdout.trimEnd().split('\n');
      assert.match(header, /^NAME\s+ID\s+STATUS\s+ROLE\s+REGION\s+ZONE\s+CPUS\s+MEMORY\s+TYPES\s+LAST SEEN\s+AGE$/);
      const row = rows.find((r) => r.startsWith(host))!;
      assert.ok(row, table.stdout);
      // Columns line up: each cell starts where its header does.
      assert.equal(row.indexOf(nodeId()), header.indexOf('ID'));
      assert.equal(row.indexOf('READY'), header.indexOf('STATUS'));
      assert.match(row, /\s0\/8\s+0B?\/16GiB\s/);
      assert.match(row, /\d+s ago/);

      const served = (await listNodes()).map((n) => Node.toJSON(n));
      const json = JSON.parse((await hv('node', 'list', '-o', 'json')).stdout);
      // last_seen moves with every heartbeat: compare the rest.
      const noSeen = (x: Record<string, unknown>[]) => x.map(({ lastSeen: _, ...rest }) => rest);
      assert.deepEqual(noSeen(json), noSeen(served as Record<string, unknown>[]));
      const yaml = YAML.parse((await hv('node', 'list', '-o', 'yaml')).stdout);
      assert.deepEqual(noSeen(yaml), noSeen(served as Record<string, unknown>[]));
      assert.deepEqual((await hv('node', 'list', '-o', 'name')).stdout.trim().split('\n'), served.map((n) => (n as { id: string }).id));
      const filtered = await hv('node', 'list', '--status', 'maintenance', '-o', 'name');
      assert.equal(filtered.stdout, '');
    });

    it('get by host name or id; cordon, maintenance, uncordon and drain set the status', async () => {
      const byName = JSON.parse((await hv('node', 'get', host, '-o', 'json')).stdout);
      assert.equal(byName.id, nodeId());
      assert.equal(JSON.parse((await hv('node', 'get', nodeId(), '-o', 'json')).stdout).hostname, host);
      const status = async (verb: string) => {
        const r = await hv('node', verb, host, '-o', 'json');
        assert.equal(r.code, 0, r.stderr);
        return JSON.parse(r.stdout).status;
      };
      assert.equal(await status('cordon'), 'NODE_STATUS_DRAINING');
      assert.equal(await status('maintenance'), 'NODE_STATUS_MAINTENANCE');
      assert.equal(await status('uncordon'), 'NODE_STATUS_READY');
      const drain = await hv('node', 'drain', host, '--wait', '-o', 'name');
      assert.equal(drain.code, 0, drain.stderr);
      assert.match(drain.stderr, /is DRAINING; 0 instance\(s\) still on it/);
      assert.equal(await status('uncordon'), 'NODE_STATUS_READY');
    });

    it('deregister by name; then get is NOT_FOUND (exit 5)', async () => {
      const spare = `hvt${token}-spare`;
      await call(
        cluster,
        cluster.registerNode,
        nodeRegistration(spare, { ip: '127.0.0.1', port: 1, capacity: { cpuCores: 1, memoryBytes: BigInt(GiB), diskBytes: 0n, gpuCount: 0 } }),
      );
      const r = await hv('node', 'deregister', spare);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), `node ${spare} deregistered`);
      const gone = await hv('node', 'get', nodeIdFor(spare));
      assert.equal(gone.code, 5);
      assert.match(gone.stderr, /^error: NOT_FOUND: /);
      const unknown = await hv('node', 'get', 'no-such-host');
      assert.equal(unknown.code, 5);
      assert.match(unknown.stderr, /NOT_FOUND: no node has the id or name "no-such-host"/);
    });

    it('list --watch prints the list, then each change', async () => {
      const p = new HvctlProcess(['--server', t.address, 'node', 'list', '--watch']);
      try {
        await p.line(new RegExp(`^ADDED\\s+${host}\\s`));
        assert.match(p.stdout.split('\n')[0], /^EVENT\s+NAME\s+ID\s+STATUS/);
        await call(cluster, cluster.updateNodeStatus, UpdateNodeStatusRequest.fromPartial({ nodeId: nodeId(), status: NodeStatus.NODE_STATUS_MAINTENANCE }));
        await p.line(new RegExp(`^MODIFIED\\s+${host}\\s+\\S+\\s+MAINTENANCE`));
        await call(cluster, cluster.updateNodeStatus, UpdateNodeStatusRequest.fromPartial({ nodeId: nodeId(), status: NodeStatus.NODE_STATUS_READY }));
        await p.line(new RegExp(`^MODIFIED\\s+${host}\\s+\\S+\\s+READY`));
      } finally {
        p.stop();
      }
    });
  });

  it('cluster info: a record, or ClusterInfo as JSON', async () => {
    const r = await hv('cluster', 'info');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Name:\s+\S+/m);
    assert.match(r.stdout, /^Nodes:\s+1 ready of 1$/m);
    assert.match(r.stdout, /^Memory:\s+0 allocated of 16GiB$/m);
    const json = JSON.parse((await hv('cluster', 'info', '-o', 'json')).stdout);
    assert.deepEqual([json.totalNodes, json.readyNodes, json.totalCapacity.memoryBytes], [1, 1, String(16 * GiB)]);
  });

  describe('instance', () => {
    let id = '';

    it('create --wait shows each state until RUNNING, then prints the instance', async () => {
      const r = await hv('instance', 'create', `web-${token}`, '--kernel', kernel(), '--memory', '256MiB', '--cpus', '2', '--disk', 'root=1GiB', '--label', 'tier=web', '--annotation', 'note=cli', '--wait');
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, new RegExp(`instance web-${token}: PENDING`));
      assert.match(r.stderr, new RegExp(`instance web-${token}: RUNNING on node ${host}`));
      const [header, row] = r.stdout.trimEnd().split('\n');
      assert.match(header, /^NAME\s+ID\s+TYPE\s+STATE\s+NODE\s+IP\s+CPUS\s+MEMORY\s+AGE\s+REASON$/);
      assert.match(row, new RegExp(`^web-${token}\\s+\\S+\\s+vm\\s+RUNNING\\s+${host}\\s+2\\s+256MiB\\s`));
      id = row.split(/\s+/)[1];
      const served = await call(compute, compute.getInstance, { instanceId: id });
      assert.deepEqual(served.metadata, { labels: { tier: 'web' }, annotations: { note: 'cli' } });
      assert.deepEqual(served.spec?.disks, [{ name: 'root', sizeBytes: BigInt(GiB), type: '', boot: true }]);
    });

    it('get and list in every format, with filters', async () => {
      const served = await call(compute, compute.getInstance, { instanceId: id });
      assert.deepEqual(JSON.parse((await hv('instance', 'get', `web-${token}`, '-o', 'json')).stdout), Instance.toJSON(served));
      assert.deepEqual(YAML.parse((await hv('instance', 'get', id, '-o', 'yaml')).stdout), Instance.toJSON(served));
      assert.equal((await hv('instance', 'get', `web-${token}`, '-o', 'name')).stdout, `${id}\n`);
      assert.deepEqual((await hv('instance', 'list', '-l', 'tier=web', '--state', 'running', '-o', 'name')).stdout.trim().split('\n'), [id]);
      assert.equal((await hv('instance', 'list', '-l', 'tier=db', '-o', 'name')).stdout, '');
      const empty = await hv('instance', 'list', '--state', 'failed');
      assert.equal(empty.code, 0);
      assert.equal(empty.stdout, '');
      assert.match(empty.stderr, /no instances/);
      assert.deepEqual((await hv('instance', 'list', '--node', host, '-o', 'name')).stdout.trim().split('\n'), [id]);
    });

    it('stats prints the figures with units', async () => {
      const r = await hv('instance', 'stats', `web-${token}`);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^CPU:\s+\d+\.\d%$/m);
      assert.match(r.stdout, /^Memory used:\s+[\d.]+(B|KiB|MiB|GiB)$/m);
      assert.equal(JSON.parse((await hv('instance', 'stats', id, '-o', 'json')).stdout).instanceId, id);
    });

    it('list --watch and watch print each change as it happens', async () => {
      const list = new HvctlProcess(['--server', t.address, 'instance', 'list', '--watch']);
      const one = new HvctlProcess(['--server', t.address, 'instance', 'watch', `web-${token}`, '-o', 'json']);
      try {
        await list.line(new RegExp(`^ADDED\\s+web-${token}\\s.*RUNNING`));
        await one.line(/"type":"ADDED"/);
        const stop = await hv('instance', 'stop', `web-${token}`, '--wait');
        assert.equal(stop.code, 0, stop.stderr);
        assert.match(stop.stderr, new RegExp(`instance web-${token}: STOPPED`));
        await list.line(new RegExp(`^MODIFIED\\s+web-${token}\\s.*STOPPED`));
        const ev = JSON.parse(await one.line(/INSTANCE_STATE_STOPPED/));
        assert.deepEqual([ev.type, ev.object.id], ['MODIFIED', id]);
        const start = await hv('instance', 'start', id, '--wait', '-o', 'json');
        assert.equal(start.code, 0, start.stderr);
        assert.equal(JSON.parse(start.stdout).state, 'INSTANCE_STATE_RUNNING');
        await list.line(new RegExp(`^MODIFIED\\s+web-${token}\\s.*RUNNING`));
      } finally {
        list.stop();
        one.stop();
      }
    });

    it('migrate is refused (exit 9) where there is no other node, and to the node it is on', async () => {
      const r = await hv('instance', 'migrate', `web-${token}`);
      assert.equal(r.code, 9, r.stderr);
      assert.match(r.stderr, /cannot move: there is no other node/);
      const to = await hv('instance', 'migrate', `web-${token}`, '--to', host);
      assert.equal(to.code, 9, to.stderr);
      assert.match(to.stderr, new RegExp(`already on node ${host}`));
    });

    it('restart, then delete --wait until it is gone', async () => {
      const r = await hv('instance', 'restart', `web-${token}`, '-o', 'json');
      assert.equal(r.code, 0, r.stderr);
      // It says what it waits for before the call that may take the grace period, and how long it took.
      assert.match(r.stderr, new RegExp(`^restarting web-${token}: the guest is asked to reboot \\(ACPI\\) and reset if it has not shut down within the server's grace period .*waiting…$`, 'm'));
      assert.match(r.stderr, new RegExp(`^restarted web-${token} in \\d+\\.\\d s$`, 'm'));
      await watch.state(id, InstanceState.INSTANCE_STATE_RUNNING);
      const d = await hv('instance', 'delete', `web-${token}`, '--wait');
      assert.equal(d.code, 0, d.stderr);
      assert.equal(d.stdout.trim(), `instance web-${token} deleted`);
      assert.match(d.stderr, /DELETED/);
      assert.equal((await hv('instance', 'get', id)).code, 5);
    });

    it('create -f spec.yaml, with flags laid over the file', async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), `hvt${token}-`));
      try {
        const file = path.join(dir, 'spec.yaml');
        writeFileSync(file, YAML.stringify({ type: 'vm', spec: { cpuCores: 1, memoryBytes: '128MiB', kernel: kernel() }, metadata: { labels: { from: 'file' } } }));
        const r = await hv('instance', 'create', `file-${token}`, '-f', file, '--label', 'extra=flag', '--wait', '-o', 'json');
        assert.equal(r.code, 0, r.stderr);
        const i = JSON.parse(r.stdout);
        assert.deepEqual([i.name, i.state, i.spec.memoryBytes, i.metadata.labels], [`file-${token}`, 'INSTANCE_STATE_RUNNING', String(128 * 2 ** 20), { from: 'file', extra: 'flag' }]);
        assert.equal((await hv('instance', 'delete', i.id, '--wait')).code, 0);
        writeFileSync(file, 'type: teapot\n');
        const bad = await hv('instance', 'create', 'x', '-f', file);
        assert.equal(bad.code, 3);
        assert.match(bad.stderr, /INVALID_ARGUMENT: .*type: "teapot" is not one of vm, container, microvm/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('create --network <net>/<subnet> --sg: names resolved, the instance gets its address', async () => {
      const net = new Net(t);
      const web = (await net.rpc('createNetwork', { name: `net-${token}` })).network!;
      const sub = (await net.rpc('createSubnet', { name: `sub-${token}`, networkId: web.id, cidr: '10.99.0.0/24' })).subnet!;
      const sg = (await net.rpc('createSecurityGroup', { name: `sg-${token}` })).securityGroup!;
      const r = await hv('instance', 'create', `net-${token}`, '--kernel', kernel(), '--network', `net-${token}/sub-${token}`, '--sg', `sg-${token}`, '--wait', '-o', 'json');
      assert.equal(r.code, 0, r.stderr);
      const i = JSON.parse(r.stdout);
      assert.deepEqual(i.spec.network, { networkId: web.id, subnetId: sub.id, securityGroups: [sg.id] });
      assert.match(i.ipAddress, /^10\.99\.0\.\d+$/);
      assert.match(r.stderr, new RegExp(`RUNNING on node ${host}, ${i.ipAddress.replace(/\./g, '\\.')}`));
      assert.equal((await hv('instance', 'delete', i.id, '--wait')).code, 0);
      const noNet = await hv('instance', 'create', 'x', '--kernel', kernel(), '--network', 'no-such-net');
      assert.equal(noNet.code, 5);
      assert.match(noNet.stderr, /NOT_FOUND: no network has the id or name "no-such-net"/);
    });

    it('create --wait exits 21 with the reason when the instance FAILED', async () => {
      const r = await hv('instance', 'create', `bad-${token}`, '--kernel', images.url('no-such-kernel'), '--wait');
      assert.equal(r.code, 21, r.stderr);
      assert.match(r.stderr, new RegExp(`error: instance bad-${token} FAILED: .*no-such-kernel`));
      await hv('instance', 'delete', `bad-${token}`, '--force');
    });
  });

  describe('errors: the gRPC code and message, and an exit code scripts can rely on', () => {
    it('INVALID_ARGUMENT exits 3, from the server or from a flag', async () => {
      const server = await hv('instance', 'create', `x-${token}`, '--memory', '256MiB');
      assert.equal(server.code, 3);
      assert.match(server.stderr, /^error: INVALID_ARGUMENT: spec\.\w+/);
      const flag = await hv('instance', 'create', 'x', '--memory', 'lots');
      assert.equal(flag.code, 3);
      assert.match(flag.stderr, /INVALID_ARGUMENT: --memory: "lots" is not a size/);
      const type = await hv('instance', 'list', '--state', 'sleepy');
      assert.equal(type.code, 3);
      assert.match(type.stderr, /--state: "sleepy" is not one of pending, creating, running, stopped, failed, deleting/);
    });

    it('NOT_FOUND exits 5', async () => {
      const r = await hv('instance', 'get', randomUUID());
      assert.equal(r.code, 5);
      assert.match(r.stderr, /^error: NOT_FOUND: /);
    });

    it('UNAVAILABLE exits 14 when nothing listens', async () => {
      const r = await hvctl(['--server', '127.0.0.1:1', 'node', 'list']);
      assert.equal(r.code, 14);
      assert.match(r.stderr, /^error: UNAVAILABLE: /);
    });

    it('a wrong command line exits 2 with usage', async () => {
      const r = await hv('instance', 'frobnicate');
      assert.equal(r.code, 2);
      assert.match(r.stderr, /unknown command 'frobnicate'/);
      assert.equal((await hv('--help')).code, 0);
    });
  });

  describe('where the server comes from: --server, HV_SERVER, the config file', () => {
    it('config set server is the default; HV_SERVER wins over it; --server wins over both', async () => {
      const env = isolatedEnv();
      assert.equal((await hvctl(['config', 'set', 'server', t.address], { env })).code, 0);
      assert.match((await hvctl(['config', 'view'], { env })).stdout, new RegExp(`server: ${t.address.replace('.', '\\.')}`));
      const viaConfig = await hvctl(['node', 'list', '-o', 'name'], { env });
      assert.equal(viaConfig.code, 0, viaConfig.stderr);
      assert.ok(viaConfig.stdout.includes(nodeId()));
      const viaEnv = await hvctl(['node', 'list'], { env: { ...env, HV_SERVER: '127.0.0.1:1' } });
      assert.equal(viaEnv.code, 14);
      const viaFlag = await hvctl(['--server', t.address, 'node', 'list', '-o', 'name'], { env: { ...env, HV_SERVER: '127.0.0.1:1' } });
      assert.equal(viaFlag.code, 0, viaFlag.stderr);
      assert.equal((await hvctl(['config', 'set', 'output', 'xml'], { env })).code, 3);
    });
  });

  describe('completion', () => {
    const complete = async (line: string) => {
      const script = (await hvctl(['completion', 'bash'])).stdout;
      const words = line.split(' ');
      const { execFileSync } = await import('node:child_process');
      return execFileSync('bash', ['-c', `${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _hvctl; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: 'utf8' })
        .trim()
        .split('\n');
    };

    it('bash completes verbs and flags from the command tree', async () => {
      assert.ok((await complete('hvctl ins')).includes('instance'));
      assert.deepEqual(await complete('hvctl instance cr'), ['create']);
      assert.ok((await complete('hvctl instance create web --me')).includes('--memory'));
      assert.deepEqual(await complete('hvctl sg rule a'), ['add']);
      assert.ok((await complete('hvctl router interface ')).includes('remove'));
    });

    it('zsh completes the same, through compadd', async () => {
      const script = (await hvctl(['completion', 'zsh'])).stdout;
      assert.match(script, /^#compdef hvctl\n/);
      const { execFileSync } = await import('node:child_process');
      // compadd offers what fits the typed prefix; here it prints what it was given.
      const offered = (line: string) => {
        const words = line.split(' ');
        return execFileSync('zsh', ['-c', `${script}\ncompadd() { shift; print -l -- "$@"; }\nwords=(${words.map((w) => `'${w}'`).join(' ')}); CURRENT=${words.length}; _hvctl`], { encoding: 'utf8' }).trim().split('\n');
      };
      assert.ok(offered('hvctl instance cr').includes('create'));
      assert.ok(offered('hvctl -o json sg rule a').includes('add'));
      assert.ok(offered('hvctl instance create web --me').includes('--memory'));
      assert.ok(!offered('hvctl instance cr').includes('rule'));
      // With compinit loaded (-D: no dump file written anywhere), sourcing it registers the function for hvctl.
      const registered = execFileSync('zsh', ['-c', `autoload -U compinit && compinit -u -D\n${script}\nprint \${_comps[hvctl]}`], { encoding: 'utf8' }).trim();
      assert.equal(registered, '_hvctl');
      assert.equal((await hvctl(['completion', 'fish'])).code, 3);
    });
  });
});
