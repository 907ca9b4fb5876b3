import assert from 'node:assert/strict';
import { DEFAULT_BACKOFF, delayAfter, RetryBackoff } from './retry-backoff';

describe('sdn/retry-backoff: when failed host work is tried again', () => {
  it('waits 1 s after the first failure, doubling to a cap of about a minute', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8, 20].map((n) => delayAfter(n)), [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 64_000, 64_000]);
    assert.equal(delayAfter(1000), DEFAULT_BACKOFF.capMs, 'no overflow to Infinity or NaN after many failures');
  });

  it('a key that never failed is tried at once', () => assert.equal(new RetryBackoff().waiting('port-1', 'w', 0), undefined));

  it('after a failure it waits out the delay with the reason, then is due', () => {
    const b = new RetryBackoff();
    assert.equal(b.failed('port-1', 'w', 'no bridge br9', 10_000), 1_000);
    assert.deepEqual(b.waiting('port-1', 'w', 10_999), { reason: 'no bridge br9', failures: 1, retryAt: 11_000 });
    assert.equal(b.waiting('port-1', 'w', 11_000), undefined);
  });

  it('each further failure of the same wish doubles the wait', () => {
    const b = new RetryBackoff();
    const waits = [0, 1_000, 3_000, 7_000].map((t) => b.failed('net-a', 'w', 'x', t));
    assert.deepEqual(waits, [1_000, 2_000, 4_000, 8_000]);
    assert.equal(b.waiting('net-a', 'w', 14_999)?.failures, 4);
  });

  it('success forgets the failures: the next failure waits 1 s again', () => {
    const b = new RetryBackoff();
    b.failed('p', 'w', 'x', 0);
    b.failed('p', 'w', 'x', 1_000);
    b.succeeded('p');
    assert.equal(b.waiting('p', 'w', 1_001), undefined);
    assert.equal(b.failed('p', 'w', 'x', 2_000), 1_000);
  });

  it('a change of what is wanted is tried at once and counts from one', () => {
    const b = new RetryBackoff();
    b.failed('p', 'mtu 1400', 'x', 0);
    b.failed('p', 'mtu 1400', 'x', 1_000);
    assert.ok(b.waiting('p', 'mtu 1400', 1_500));
    assert.equal(b.waiting('p', 'mtu 1450', 1_500), undefined, 'new settings are tried now');
    assert.equal(b.failed('p', 'mtu 1450', 'y', 1_500), 1_000);
  });

  it('keys, each with their own count, are dropped when no longer wanted', () => {
    const b = new RetryBackoff();
    b.failed('a', 'w', 'x', 0);
    b.failed('a', 'w', 'x', 0);
    b.failed('b', 'w', 'x', 0);
    assert.equal(b.waiting('a', 'w', 0)?.failures, 2);
    assert.equal(b.waiting('b', 'w', 0)?.failures, 1);
    b.keepOnly(new Set(['b']));
    assert.equal(b.size, 1);
    assert.equal(b.waiting('a', 'w', 0), undefined);
  });

  it('follows a policy it is given', () => {
    const b = new RetryBackoff({ baseMs: 100, factor: 3, capMs: 500 });
    assert.deepEqual([0, 0, 0, 0].map(() => b.failed('k', 'w', 'x', 0)), [100, 300, 500, 500]);
  });
});
