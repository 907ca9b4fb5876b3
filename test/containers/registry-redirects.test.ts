import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { status } from '@grpc/grpc-js';
import { OciImageCache } from '../../src/agent/images/oci-cache';
import { PermissionDenied } from '../../src/errors';
import { ComputeServiceClient } from '../../src/gen/hypervisor/v1/compute';
import { fetchPolicy } from '../../src/images/fetch';
import { pull } from '../support/compute';
import { TestControlPlane } from '../support/control-plane';
import { forward, listen } from './support/forward';
import { RedirectingRegistry } from './support/redirecting-registry';
import { TokenAuthRegistry } from './support/token-auth-registry';
import { filesUnder, LocalRegistry, runToken } from './support/registry';
import { buildTestImage, type TestImage } from './support/test-image';

// The front (127.0.0.1) and one blob server (127.0.0.3) are allowed; the other blob server (127.0.0.2) is loopback like them, and refused.
const ALLOW = ['127.0.0.1/32', '127.0.0.3/32'];
const REFUSED = '127.0.0.2';
const ALLOWED = '127.0.0.3';

describe('image pulls follow a registry redirect only where the fetch policy allows (--image-allow-cidr), real registry behind a redirecting front', function () {
  this.timeout(120_000);
  const token = runToken();
  const registry = new LocalRegistry();
  const t = new TestControlPlane({ imageAllowCidrs: ALLOW }, { network: true });
  let front: RedirectingRegistry;
  let image: TestImage;
  let dir = '';
  let ref = '';

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), `hv-redirects-${token}-`));
    image = buildTestImage();
    await registry.start();
    registry.push(image.layout, image.tag, `${token}/busybox`, '1');
    front = await new RedirectingRegistry(registry.address, [REFUSED, ALLOWED]).start();
    ref = `oci://${front.address}/${token}/busybox:1`;
    await t.start();
  });
  after(async () => {
    await t.stop();
    await front?.stop();
    await registry.stop();
    image?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the agent: a blob redirected to a refused address fails the pull, naming the address, and leaves nothing in the cache', async () => {
    front.redirectTo = front.blobServers.get(REFUSED)!;
    const before = front.redirects;
    const cacheDir = path.join(dir, 'refused');
    const cache = new OciImageCache(cacheDir, fetchPolicy({ imageAllowCidrs: ALLOW }));
    await assert.rejects(cache.ensure({ ref, url: ref }), (e: Error) => {
      assert.ok(e instanceof PermissionDenied, `${e.name}: ${e.message}`);
      assert.ok(e.message.includes(`(the registry sent the pull to http://${front.redirectTo}): ${REFUSED} is a loopback address;`), e.message);
      assert.match(e.message, /--image-allow-cidr/);
      return true;
    });
    assert.ok(front.redirects > before, 'the registry did redirect a blob');
    assert.deepEqual(filesUnder(cacheDir), [path.join(cacheDir, '.tmp')]);
  });

  it('the agent: a blob redirected to an allowed address is fetched from there', async () => {
    front.redirectTo = front.blobServers.get(ALLOWED)!;
    const before = front.redirects;
    const cache = new OciImageCache(path.join(dir, 'allowed'), fetchPolicy({ imageAllowCidrs: ALLOW }));
    const got = await cache.ensure({ ref, url: ref });
    assert.ok(front.redirects > before);
    assert.ok(readdirSync(path.join(got.rootfs, 'bin')).includes('sh'));
  });

  it('PullImage on the server: PERMISSION_DENIED naming the refused address; the allowed one works', async () => {
    const c = t.client(ComputeServiceClient);
    front.redirectTo = front.blobServers.get(REFUSED)!;
    const refused = await pull(c, ref);
    assert.equal(refused.code, status.PERMISSION_DENIED, refused.details);
    assert.ok(refused.details.includes(`${REFUSED} is a loopback address`), refused.details);
    front.redirectTo = front.blobServers.get(ALLOWED)!;
    const ok = await pull(c, ref);
    assert.equal(ok.code, 0, ok.details);
  });

  it("a registry's token service (a Bearer challenge naming another address) is reached through the guard as well", async () => {
    const tokenAuth = await new TokenAuthRegistry(registry.address, REFUSED).start();
    try {
      const tref = `oci://${tokenAuth.address}/${token}/busybox:1`;
      await assert.rejects(new OciImageCache(path.join(dir, 'token-refused'), fetchPolicy({ imageAllowCidrs: ALLOW })).ensure({ ref: tref, url: tref }), (e: Error) => {
        assert.ok(e instanceof PermissionDenied && e.message.includes(`(the registry sent the pull to http://${tokenAuth.tokenService}): ${REFUSED} is a loopback address`), `${e.name}: ${e.message}`);
        return true;
      });
      assert.equal(tokenAuth.tokenRequests.length, 0, 'the token service was never reached');
      const got = await new OciImageCache(path.join(dir, 'token-allowed'), fetchPolicy({ imageAllowCidrs: [...ALLOW, `${REFUSED}/32`] })).ensure({ ref: tref, url: tref });
      assert.ok(readdirSync(path.join(got.rootfs, 'bin')).includes('sh'));
      assert.ok(tokenAuth.tokenRequests.some((q) => /service=test-registry/.test(q) && /scope=repository/.test(q)), tokenAuth.tokenRequests.join(' '));
    } finally {
      await tokenAuth.stop();
    }
  });

  it('an insecure registry (loopback) that speaks TLS with a self-signed certificate is pulled over HTTPS, unverified, as skopeo --tls-verify=false does', async () => {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore' });
    let requests = 0;
    const tls = https.createServer({ key: readFileSync(path.join(dir, 'key.pem')), cert: readFileSync(path.join(dir, 'cert.pem')) }, (req, res) => {
      requests++;
      forward(req, res, registry.address, address);
    });
    const address = await listen(tls, '127.0.0.1');
    try {
      const tref = `oci://${address}/${token}/busybox:1`;
      const got = await new OciImageCache(path.join(dir, 'tls'), fetchPolicy({ imageAllowCidrs: ALLOW })).ensure({ ref: tref, url: tref });
      assert.ok(readdirSync(path.join(got.rootfs, 'bin')).includes('sh'));
      assert.ok(requests > 0, 'the pull went over TLS');
    } finally {
      tls.closeAllConnections();
      await new Promise((r) => tls.close(r));
    }
  });
});
