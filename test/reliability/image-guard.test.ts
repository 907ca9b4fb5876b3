import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { status } from '@grpc/grpc-js';
import { InstanceType } from '../../src/gen/hypervisor/v1/common';
import { ComputeServiceClient, ListImagesRequest, type PullImageProgress } from '../../src/gen/hypervisor/v1/compute';
import { AddressGuard } from '../../src/images/address-guard';
import { fetchImage, fetchPolicy } from '../../src/images/fetch';
import { freePort } from '../../src/nats/embedded-nats-server';
import { TestControlPlane } from '../support/control-plane';
import { ImageServer } from '../support/image-server';

/** Reads a PullImage stream to its end: the status it ended with. */
const pull = (c: ComputeServiceClient, imageRef: string) =>
  new Promise<{ code: number; details: string; progress: PullImageProgress[] }>((resolve) => {
    const progress: PullImageProgress[] = [];
    const s = c.pullImage({ imageRef, type: InstanceType.INSTANCE_TYPE_UNSPECIFIED });
    s.on('data', (p: PullImageProgress) => progress.push(p));
    s.on('error', (e: { code: number; details: string }) => resolve({ code: e.code, details: e.details, progress }));
    s.on('end', () => resolve({ code: 0, details: '', progress }));
  });

describe('image fetching: no fetching for strangers (real server, real HTTP servers on loopback)', function () {
  this.timeout(60_000);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hv-imgguard-'));
  let images: ImageServer;
  let redirector: http.Server;
  let redirectPort = 0;
  let notHttp: net.Server;
  let notHttpPort = 0;
  before(async () => {
    writeFileSync(path.join(dir, 'disk.raw'), Buffer.alloc(4096, 7));
    images = await new ImageServer(dir).start();
    // An allowed host (127.0.0.2) that sends the client on to loopback proper (127.0.0.1).
    redirector = http.createServer((req, res) => res.writeHead(302, { location: `http://127.0.0.1:${images.port}${req.url}` }).end());
    await new Promise<void>((r) => redirector.listen(0, '127.0.0.2', r));
    redirectPort = (redirector.address() as net.AddressInfo).port;
    // An open port that is not HTTP (as an SSH server would greet).
    notHttp = net.createServer((s) => s.end('SSH-2.0-OpenSSH_9.2\r\n'));
    await new Promise<void>((r) => notHttp.listen(0, '127.0.0.1', r));
    notHttpPort = (notHttp.address() as net.AddressInfo).port;
  });
  after(async () => {
    await images?.stop();
    redirector?.close();
    notHttp?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('a server with the default policy (nothing allowed beyond public addresses)', () => {
    const t = new TestControlPlane({ imageAllowCidrs: [] });
    let c: ComputeServiceClient;
    before(async () => {
      await t.start();
      c = t.client(ComputeServiceClient);
    });
    after(() => t.stop());

    for (const [what, url, message] of [
      ['a loopback address', () => images.url('disk.raw'), /^image http:\/\/127\.0\.0\.1:\d+\/disk\.raw: 127\.0\.0\.1 is a loopback address; images are not fetched from there unless the operator allows it \(--image-allow-cidr\)$/],
      ['a name that resolves to loopback', () => `http://localhost:${images.port}/disk.raw`, /^image http:\/\/localhost:\d+\/disk\.raw: localhost resolves to (127\.0\.0\.1|::1), a loopback address;/],
      ['IPv6 loopback', () => `http://[::1]:${images.port}/disk.raw`, /: ::1 is a loopback address;/],
      ['IPv4-mapped loopback', () => `http://[::ffff:127.0.0.1]:${images.port}/disk.raw`, /: ::ffff:7f00:1 is a loopback address;/],
      ['the cloud metadata address', () => 'http://169.254.169.254/latest/meta-data/', /: 169\.254\.169\.254 is a link-local address;/],
      ['the server\'s own metrics', () => `http://127.0.0.1:${t.cp.httpPort}/metrics`, /is a loopback address;/],
      ['the unspecified address', () => `http://0.0.0.0:${images.port}/disk.raw`, /: 0\.0\.0\.0 is a unspecified address;/],
    ] as const) {
      it(`PullImage from ${what} is PERMISSION_DENIED and records nothing`, async () => {
        const r = await pull(c, url());
        assert.equal(r.code, status.PERMISSION_DENIED, r.details);
        assert.match(r.details, message);
        assert.equal((await new Promise<number>((res) => c.listImages(ListImagesRequest.fromPartial({}), (e, x) => res(e ? -1 : x.images.length)))), 0);
      });
    }
  });

  describe('a server that allows 127.0.0.2 only', () => {
    const t = new TestControlPlane({ imageAllowCidrs: ['127.0.0.2/32'] });
    let c: ComputeServiceClient;
    before(async () => {
      await t.start();
      c = t.client(ComputeServiceClient);
    });
    after(() => t.stop());

    it('follows a redirect only where the policy allows: a redirect to loopback is PERMISSION_DENIED', async () => {
      const r = await pull(c, `http://127.0.0.2:${redirectPort}/disk.raw`);
      assert.equal(r.code, status.PERMISSION_DENIED, r.details);
      assert.match(r.details, /^image http:\/\/127\.0\.0\.1:\d+\/disk\.raw: 127\.0\.0\.1 is a loopback address;/);
    });
  });

  describe('a server that allows loopback (as the tests\' image servers need)', () => {
    const t = new TestControlPlane({ imageAllowCidrs: ['127.0.0.0/8'], imageMaxBytes: 1000 });
    let c: ComputeServiceClient;
    before(async () => {
      await t.start();
      c = t.client(ComputeServiceClient);
    });
    after(() => t.stop());

    it('a closed port and an open port that is not HTTP get the same answer: the fetcher tells no port state', async () => {
      const closed = await freePort();
      const a = await pull(c, `http://127.0.0.1:${closed}/disk.raw`);
      const b = await pull(c, `http://127.0.0.1:${notHttpPort}/disk.raw`);
      assert.equal(a.code, status.UNAVAILABLE, a.details);
      assert.equal(b.code, a.code);
      const strip = (s: string) => s.replace(/127\.0\.0\.1:\d+/, 'HOST');
      assert.equal(strip(b.details), strip(a.details));
      assert.match(a.details, /no HTTP answer from the server \(it could not be reached, or it is not an image server\)$/);
    });

    it('the size limit is the operator\'s (--image-max-bytes)', async () => {
      const r = await pull(c, images.url('disk.raw'));
      assert.equal(r.code, status.INVALID_ARGUMENT, r.details);
      assert.match(r.details, /: 4096 bytes is more than the 1000 allowed$/);
    });
  });

  describe('the fetcher itself (shared by PullImage and the agents)', () => {
    it('refuses a name when any of its addresses is blocked, and fetches under an explicit allow', async () => {
      await assert.rejects(fetchImage(images.url('disk.raw')), /is a loopback address/);
      const got = await fetchImage(images.url('disk.raw'), { policy: fetchPolicy({ imageAllowCidrs: ['127.0.0.1'] }) });
      assert.equal(got.sizeBytes, 4096);
      const g = new AddressGuard({ allowCidrs: [] });
      assert.equal(g.refusal('93.184.216.34'), undefined, 'a public address is fine');
      assert.equal(g.refusal('100.100.100.200'), 'a cloud metadata address');
      assert.equal(g.refusal('fd00:ec2::254'), 'a cloud metadata address');
      assert.equal(g.refusal('fe80::1'), 'a link-local address');
    });
  });
});
