import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { credentials, makeGenericClientConstructor } from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { TestControlPlane } from '../support/control-plane';

const BUF = path.join(__dirname, '..', '..', '..', 'node_modules', '.bin', 'buf');
const run = promisify(execFile);
const bufCurl = (t: TestControlPlane, ...args: string[]) =>
  run(BUF, ['curl', '--protocol', 'grpc', '--http2-prior-knowledge', ...args], { timeout: 20_000 }).then((r) => r.stdout);

describe('server endpoints, as an outside client sees them', function () {
  this.timeout(60_000);
  const t = new TestControlPlane();
  before(() => t.start());
  after(() => t.stop());

  it('answers reflection with complete descriptors: buf curl lists and calls methods with no proto files', async () => {
    const methods = (await bufCurl(t, '--list-methods', `http://${t.address}`)).split('\n');
    for (const m of ['RegisterNode', 'DeregisterNode', 'GetNode', 'ListNodes', 'UpdateNodeStatus', 'Heartbeat', 'WatchNodes', 'GetClusterInfo'])
      assert.ok(methods.includes(`hypervisor.v1.ClusterService/${m}`), `${m} is listed`);
    const registered = JSON.parse(
      await bufCurl(
        t,
        '-d',
        JSON.stringify({ hostname: 'reflect-a', ip: '10.3.0.1', port: 50052, supportedInstanceTypes: ['vm'], capacity: { cpuCores: 2 } }),
        `http://${t.address}/hypervisor.v1.ClusterService/RegisterNode`,
      ),
    );
    assert.match(registered.nodeId, /^[0-9a-f-]{36}$/);
    const node = JSON.parse(await bufCurl(t, '-d', JSON.stringify({ nodeId: registered.nodeId }), `http://${t.address}/hypervisor.v1.ClusterService/GetNode`));
    assert.equal(node.status, 'NODE_STATUS_READY');
    assert.ok(node.createdAt, 'Timestamp fields resolve through google/protobuf/timestamp.proto');
  });

  it('lists grpc.health.v1 in reflection and answers it through buf curl', async () => {
    const methods = (await bufCurl(t, '--list-methods', `http://${t.address}`)).split('\n');
    assert.ok(methods.includes('grpc.health.v1.Health/Check'), `listed: ${methods.join(', ')}`);
    assert.ok(methods.includes('grpc.health.v1.Health/Watch'));
    const health = JSON.parse(await bufCurl(t, '-d', '{}', `http://${t.address}/grpc.health.v1.Health/Check`));
    assert.deepEqual(health, { status: 'SERVING' });
  });

  it('reports an invalid argument to an outside client with the code and the field', async () => {
    const err = await bufCurl(t, '-d', '{"hostname":""}', `http://${t.address}/hypervisor.v1.ClusterService/RegisterNode`).then(
      () => '',
      (e: { stderr: string }) => e.stderr,
    );
    assert.match(err, /invalid_argument/);
    assert.match(err, /hostname: is required/);
  });

  it('serves the standard gRPC health service (as grpc_health_probe calls it)', async () => {
    const Health = makeGenericClientConstructor(healthService, 'Health');
    const c = new Health(t.address, credentials.createInsecure()) as unknown as {
      check: (req: object, cb: (e: Error | null, r: { status: string }) => void) => void;
      close(): void;
    };
    for (const service of ['', 'hypervisor.v1.ClusterService']) {
      const r = await new Promise<{ status: string }>((resolve, reject) => c.check({ service }, (e, res) => (e ? reject(e) : resolve(res))));
      assert.equal(r.status, 'SERVING');
    }
    c.close();
  });

  it('serves /healthz, /readyz and Prometheus /metrics over HTTP', async () => {
    const base = `http://127.0.0.1:${t.cp.httpPort}`;
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /^hv_command_duration_seconds_count\{type="RegisterNode",ok="true"\} [1-9]/m);
    assert.match(metrics, /^hv_projection_log_position \d+/m);
    assert.equal((await fetch(`${base}/nope`)).status, 404);
  });
});

