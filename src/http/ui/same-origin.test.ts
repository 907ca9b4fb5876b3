import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { sameOrigin } from './same-origin';

const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

describe('same origin', () => {
  it('lets the console page and non-browser clients through, and no other site', () => {
    assert.equal(sameOrigin(req({ host: '127.0.0.1:8080', origin: 'http://127.0.0.1:8080' })), true);
    assert.equal(sameOrigin(req({ host: '127.0.0.1:8080' })), true, 'curl sends no Origin');
    assert.equal(sameOrigin(req({ host: '127.0.0.1:8080', origin: 'http://evil.example' })), false);
    assert.equal(sameOrigin(req({ host: '127.0.0.1:8080', origin: 'http://127.0.0.1:9999' })), false, 'another port is another origin');
    assert.equal(sameOrigin(req({ host: '127.0.0.1:8080', origin: 'null' })), false, 'a sandboxed or file: page');
  });
});
