import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { credentials, type ServiceError, status } from '@grpc/grpc-js';
import pino from 'pino';
import { ClusterServiceClient, type RegisterNodeRequest } from '../../src/gen/hypervisor/v1/cluster';
import { freePort } from '../../src/nats/embedded-nats-server';
import { defaultConfig } from '../../src/server/config';
import { ControlPlane } from '../../src/server/control-plane';
import { call, until } from '../support/control-plane';
import { ServerProcess } from '../support/server-process';
import { nodeRegistration } from '../support/nodes';
import { alive } from '../support/our-processes';

const reg = (hostname: string): RegisterNodeRequest =>
  nodeRegistration(hostname, { ip: '10.88.0.1', capacity: { cpuCores: 2, memoryBytes: 2n ** 30n, diskBytes: 2n ** 32n, gpuCount: 0 }, metadata: { labels: {}, annotations: {} } });

const readyz = (port: number) => fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status, () => 0);

/** The gRPC health status of the whole server (service ""). */
const healthOf = (address: string): Promise<string> => {
  const Ctor = grpc.makeGenericClientConstructor(
    {
      Check: {
        path: '/grpc.health.v1.Health/Check',
        requestStream: false,
        responseStream: false,
        requestSerialize: (x: Buffer) => x,
        requestDeserialize: (x: Buffer) => x,
        responseSerialize: (x: Buffer) => x,
        responseDeserialize: (x: Buffer) => x,
      },
    },
    'Health',
  );
  const c = new Ctor(address, credentials.createInsecure());
  return new Promise((resolve, reject) =>
    (c as unknown as { Check: (r: Buffer, cb: (e: ServiceError | null, b: Buffer) => void) => void }).Check(Buffer.alloc(0), (e, b) => {
      c.close();
      // HealthCheckResponse { status = 1 }: varint tag 0x08, then SERVING=1, NOT_SERVING=2.
      if (e) reject(e);
      else resolve(b[1] === 1 ? 'SERVING' : b[1] === 2 ? 'NOT_SERVING' : `status ${b[1]}`);
    }),
  );
};

describe('NATS faults: the embedded nats-server killed under load, and the server killed with kill -9', function () {
  this.timeout(120_000);

  describe('an in-process server with its embedded nats-server', () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'hv-natsfault-'));
    let cp: ControlPlane;
    let c: ClusterServiceClient;
    before(async () => {
      cp = await new ControlPlane(
        { ...defaultConfig(), natsUrl: undefined, embeddedNatsPort: 0, dataDir, grpcHost: '127.0.0.1', grpcPort: 0, httpPort: 0, agent: false },
        pino({ level: process.env.HV_TEST_LOG ?? 'silent' }),
      ).start();
      c = new ClusterServiceClient(`127.0.0.1:${cp.grpcPort}`, credentials.createInsecure());
    });
    after(async () => {
      c?.close();
      await cp?.stop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('goes NOT_SERVING and fails writes fast while NATS is gone; after the restart every acknowledged write is there', async () => {
      assert.equal(await readyz(cp.httpPort), 200);
      assert.equal(await healthOf(`127.0.0.1:${cp.grpcPort}`), 'SERVING');
      // Load: writers that keep registering nodes until told to stop, recording what was acknowledged.
      const acked: string[] = [];
      const codes = new Map<number, number>();
      let slowestRefusalMs = 0;
      let writing = true;
      const writer = async () => {
        while (writing) {
          const host = `nf-${randomUUID().slice(0, 12)}`;
          const t0 = Date.now();
          try {
            const r = await call(c, c.registerNode, reg(host), { 'x-request-id': `nf-${host}` }, { deadline: Date.now() + 10_000 });
            acked.push(r.nodeId);
          } catch (e) {
            const code = (e as ServiceError).code;
            codes.set(code, (codes.get(code) ?? 0) + 1);
            slowestRefusalMs = Math.max(slowestRefusalMs, Date.now() - t0);
            await new Promise((r) => setTimeout(r, 20));
          }
        }
      };
      const writers = Array.from({ length: 8 }, writer);
      await until('some writes acknowledged', () => acked.length >= 20);

      const natsPid = cp.embedded!.pid!;
      process.kill(natsPid, 'SIGKILL');
      const killedAt = Date.now();
      await until('readyz 503', async () => (await readyz(cp.httpPort)) === 503, 1_000);
      const readyzAfterMs = Date.now() - killedAt;
      assert.equal(await healthOf(`127.0.0.1:${cp.grpcPort}`), 'NOT_SERVING');
      // The supervisor starts it again; the server serves again.
      await until('nats-server restarted', () => cp.embedded!.restarts >= 1 && cp.embedded!.pid !== natsPid, 20_000);
      assert.ok(!alive(natsPid));
      await until('readyz 200 again', async () => (await readyz(cp.httpPort)) === 200, 30_000);
      assert.equal(await healthOf(`127.0.0.1:${cp.grpcPort}`), 'SERVING');
      const before = acked.length;
      await until('writes acknowledged again', () => acked.length > before + 5, 30_000);
      writing = false;
      await Promise.all(writers);

      // No code but UNAVAILABLE (retry helps) while NATS was gone.
      assert.ok((codes.get(status.UNAVAILABLE) ?? 0) > 0, `writes were refused while NATS was gone (refused: ${JSON.stringify(Object.fromEntries(codes))}, ${acked.length} acknowledged)`);
      for (const code of codes.keys()) assert.equal(code, status.UNAVAILABLE, `writes failed with code ${code}`);
      // At once, not at the 10 s deadline.
      assert.ok(slowestRefusalMs < 1_000, `the slowest refusal took ${slowestRefusalMs} ms`);
      for (const nodeId of acked) await call(c, c.getNode, { nodeId });
      console.log(`      readyz 503 after ${readyzAfterMs} ms; ${acked.length} writes acknowledged, all stored; refused: ${JSON.stringify(Object.fromEntries(codes))}, slowest refusal ${slowestRefusalMs} ms`);
    });
  });

  describe('the server binary killed with kill -9, started again at once on the same data dir', () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'hv-kill9-'));
    let first: ServerProcess | undefined;
    let second: ServerProcess | undefined;
    after(async () => {
      await first?.stop();
      await second?.stop();
      const pidFile = path.join(dataDir, 'nats', 'nats-server.pid');
      if (existsSync(pidFile)) {
        const pid = Number(readFileSync(pidFile, 'utf8'));
        if (alive(pid)) process.kill(pid, 'SIGKILL');
      }
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('serves: the nats-server the killed one left behind is stopped, not in the way', async () => {
      const natsPort = await freePort();
      const args = ['--data-dir', dataDir, '--embedded-nats-port', String(natsPort), '--no-agent'];
      first = await new ServerProcess(undefined, args).start();
      const c1 = new ClusterServiceClient(first.address, credentials.createInsecure());
      const { nodeId } = await call(c1, c1.registerNode, reg(`k9-${randomUUID().slice(0, 8)}`));
      c1.close();
      const orphan = Number(readFileSync(path.join(dataDir, 'nats', 'nats-server.pid'), 'utf8'));
      await first.kill9();
      assert.ok(alive(orphan), 'kill -9 of the server leaves its nats-server running');
      second = await new ServerProcess(undefined, args).start();
      assert.ok(!alive(orphan), 'the leftover nats-server was stopped');
      const c2 = new ClusterServiceClient(second.address, credentials.createInsecure());
      assert.equal((await call(c2, c2.getNode, { nodeId })).id, nodeId, 'what was written before is there');
      await call(c2, c2.registerNode, reg(`k9-${randomUUID().slice(0, 8)}`), {}, { deadline: Date.now() + 10_000 });
      c2.close();
    });
  });
});
