import assert from 'node:assert/strict';
import { BehaviorSubject } from 'rxjs';
import { HeadReader, headUnlessLost } from './log-position';

const connection = (up: boolean) => {
  const s = new BehaviorSubject(up);
  return { subject: s, like: { get connected() { return s.value; }, changes$: s.asObservable() } };
};

describe('the head a call waits for before it runs', () => {
  it('is the log head while the connection holds', async () => {
    const c = connection(true);
    assert.equal(await headUnlessLost(new HeadReader(async () => 42), c.like), 42);
  });

  it('is 0 at once when the connection is down, without a read', async () => {
    const c = connection(false);
    let reads = 0;
    assert.equal(await headUnlessLost(new HeadReader(async () => ++reads), c.like), 0);
    assert.equal(reads, 0);
  });

  it('is 0 as soon as the connection drops while the read is in flight, not at the read timeout', async () => {
    const c = connection(true);
    // A head that is never answered and a timeout no test waits out: only the drop can settle it.
    const pending = headUnlessLost(new HeadReader(() => new Promise<number>(() => undefined), 3_600_000), c.like);
    c.subject.next(false);
    assert.equal(await pending, 0);
  });

  it('is 0 when the read fails', async () => {
    const c = connection(true);
    assert.equal(await headUnlessLost(new HeadReader(async () => { throw new Error('no leader'); }), c.like), 0);
  });
});
