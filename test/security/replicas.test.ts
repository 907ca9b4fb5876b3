import assert from 'node:assert/strict';
import { credentials, status } from '@grpc/grpc-js';
import pino from 'pino';
import { IdentityServiceClient, Role } from '../../src/gen/hypervisor/iam/v1/iam';
import { ClusterServiceClient, ListNodesRequest } from '../../src/gen/hypervisor/v1/cluster';
import { certificateFacts } from '../../src/pki/certificate';
import { defaultConfig } from '../../src/server/config';
import { ControlPlane } from '../../src/server/control-plane';
import { call, rejectsWith, until } from '../support/control-plane';
import { NetworkLab } from './support';

describe('the deny list is a read model: every replica refuses a revoked certificate', function () {
  this.timeout(60_000);
  const lab = new NetworkLab();
  let second: ControlPlane;
  before(async () => {
    await lab.start();
    // Another replica on the same NATS and data dir (so the same CA), its own ports.
    second = await new ControlPlane(
      { ...defaultConfig(), natsUrl: lab.t.nats.url, dataDir: lab.t.dataDir, grpcHost: '0.0.0.0', grpcPort: 0, httpPort: 0, logLevel: 'silent', feed: false },
      pino({ level: 'silent' }),
    ).start();
  });
  after(async () => {
    await second?.stop();
    await lab.stop();
  });

  it('a certificate revoked through one replica is refused by the other', async () => {
    const iam = lab.client(IdentityServiceClient, lab.admin);
    await call(iam, iam.createUser, { name: 'rory', role: Role.ROLE_VIEWER, tenant: '' });
    const issued = await call(iam, iam.issueCertificate, { name: 'rory', csrPem: '', validDays: 0 });
    const creds = credentials.createSsl(Buffer.from(lab.ca), Buffer.from(issued.privateKeyPem), Buffer.from(issued.certificatePem));
    const other = new ClusterServiceClient(`localhost:${second.grpcPort}`, creds);
    try {
      const list = () => call(other, other.listNodes, ListNodesRequest.fromPartial({ pageSize: 10 }));
      await until('the other replica knows the certificate', () => list().then(() => true, () => undefined));
      await call(iam, iam.revokeCertificate, { name: 'rory', serial: certificateFacts(issued.certificatePem).serial });
      await until('the other replica refuses it', () => list().then(() => undefined, (e: { code: number }) => e.code === status.UNAUTHENTICATED || undefined));
      await rejectsWith(list(), status.UNAUTHENTICATED, /certificate [0-9a-f]+ of user:rory was revoked/);
      assert.notEqual(second.grpcPort, lab.t.cp.grpcPort);
    } finally {
      other.close();
    }
  });
});
