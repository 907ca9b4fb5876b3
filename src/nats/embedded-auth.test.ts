import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InvalidArgument } from '../errors';
import { readTokenFile } from '../shared/token-file';
import { ensureToken, isLoopback, localAddress, parseListen } from './embedded-auth';

describe('embedded NATS listen address and token', () => {
  it('parses host:port and [v6]:port, and refuses the rest naming the flag', () => {
    assert.deepEqual(parseListen('0.0.0.0:4222'), { host: '0.0.0.0', port: 4222 });
    assert.deepEqual(parseListen('[::1]:4223'), { host: '::1', port: 4223 });
    assert.throws(() => parseListen('4222'), (e: Error) => e instanceof InvalidArgument && /^--nats-listen: "4222" is not host:port/.test(e.message));
    assert.throws(() => parseListen('nats.example:4222'), /--nats-listen: "nats.example" is not an IP address/);
    assert.throws(() => parseListen('1.2.3.4:70000'), InvalidArgument);
  });

  it('needs a token for anything but loopback', () => {
    assert.deepEqual(['127.0.0.1', '127.8.0.1', '::1', 'localhost'].map(isLoopback), [true, true, true, true]);
    assert.deepEqual(['0.0.0.0', '198.19.0.1', '::'].map(isLoopback), [false, false, false]);
    assert.equal(localAddress('0.0.0.0'), '127.0.0.1');
    assert.equal(localAddress('198.19.0.1'), '198.19.0.1');
  });

  it('makes the token once, mode 0600, and keeps it across restarts', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hv-token-'));
    try {
      const a = ensureToken(path.join(dir, 'nats'));
      assert.match(a.token, /^[0-9a-f]{64}$/);
      assert.equal(statSync(a.file).mode & 0o777, 0o600);
      assert.equal(ensureToken(path.join(dir, 'nats')).token, a.token);
      assert.equal(readTokenFile(a.file), a.token);
      assert.throws(() => readTokenFile(path.join(dir, 'absent')), /--nats-token-file: cannot read/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
