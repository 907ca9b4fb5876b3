import assert from 'node:assert/strict';
import { sessionCookie, sessionIdOf } from './session-cookie';

describe('the console session cookie', () => {
  it('is HttpOnly, Secure and SameSite=Strict, for this host only unless a domain is given', () => {
    assert.equal(sessionCookie('abc', 3600), 'hv_session=abc; Path=/ui; HttpOnly; Secure; SameSite=Strict; Max-Age=3600');
    assert.equal(sessionCookie('abc', 3600, 'hv.example.com'), 'hv_session=abc; Path=/ui; Domain=hv.example.com; HttpOnly; Secure; SameSite=Strict; Max-Age=3600');
  });

  it('is read from a Cookie header among others, and absent when not sent', () => {
    assert.equal(sessionIdOf({ headers: { cookie: 'a=1; hv_session=xyz; b=2' } }), 'xyz');
    assert.equal(sessionIdOf({ headers: { cookie: 'a=1' } }), undefined);
    assert.equal(sessionIdOf({ headers: {} }), undefined);
  });
});
