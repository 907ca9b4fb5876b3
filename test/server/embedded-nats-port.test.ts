import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { connect } from 'nats';
import { Unavailable } from '../../src/errors';
import { EmbeddedNatsServer, freePort, freePorts } from '../../src/nats/embedded-nats-server';

/**
 * "Any free port" (port 0) is picked, then bound by nats-server a moment later: another process
 * can take it in between (an outgoing connection's ephemeral port, a parallel test). The embedded
 * server then picks another; a port the operator named is never swapped for another.
 */
describe('the embedded nats-server on a port someone took first', function () {
  this.timeout(30_000);
  let dir: string;
  let taken: net.Server;
  let takenPort: number;
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'hv-nats-port-'));
    taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    takenPort = (taken.address() as net.AddressInfo).port;
  });
  after(() => {
    taken.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('port 0: the picked port was taken meanwhile, so it picks another and serves there', async () => {
    const picks: number[] = [];
    const pick = async (host: string) => {
      const p = picks.length === 0 ? takenPort : await freePort(host);
      picks.push(p);
      return p;
    };
    const s = await EmbeddedNatsServer.start({ dataDir: path.join(dir, 'any'), port: 0 }, pick);
    try {
      assert.equal(picks.length, 2);
      assert.equal(picks[0], takenPort);
      assert.equal(s.port, picks[1]);
      const nc = await connect({ servers: s.url });
      await nc.close();
    } finally {
      await s.stop();
    }
  });

  it('a port asked for by number that is taken: UNAVAILABLE saying so, no other port tried', async () => {
    let picked = 0;
    const err = await EmbeddedNatsServer.start({ dataDir: path.join(dir, 'named'), port: takenPort }, async () => ++picked).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof Unavailable, String(err));
    assert.match(err.message, /address already in use/);
    assert.equal(picked, 0);
  });

  it('freePorts(n): n ports, all different, each free to bind', async () => {
    const ports = await freePorts(8);
    assert.equal(new Set(ports).size, 8);
    const servers = ports.map(() => net.createServer());
    await Promise.all(servers.map((srv, i) => new Promise<void>((resolve, reject) => srv.once('error', reject).listen(ports[i], '127.0.0.1', resolve))));
    await Promise.all(servers.map((srv) => new Promise((r) => srv.close(r))));
  });
});
