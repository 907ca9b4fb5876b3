import assert from 'node:assert/strict';
import { Code } from '../errors';
import { ProjectionRuntime } from '../projections/projection-runtime';
import type { EventStore } from '../eventstore/port';
import { HeadReader } from './log-position';
import { answerMarginMs, timeLeftMs } from './request-context';

describe('a request answers before its client deadline', () => {
  it('keeps a tenth of the time left as the margin to answer in, between 100 ms and 1 s, never more than half', () => {
    assert.equal(answerMarginMs(15_000), 1_000);
    assert.equal(answerMarginMs(5_000), 500);
    assert.equal(answerMarginMs(600), 100);
    assert.equal(answerMarginMs(100), 50);
  });

  it('gives a call with a deadline what is left of it less the margin, capped; a call without one the cap', () => {
    const left = timeLeftMs(Date.now() + 15_000, 30_000);
    assert.ok(left <= 14_000 && left > 13_000, `${left}`);
    assert.equal(timeLeftMs(Date.now() + 60_000, 30_000), 30_000);
    assert.equal(timeLeftMs(Infinity, 30_000), 30_000);
    assert.equal(timeLeftMs(new Date(Date.now() - 10), 30_000), 1, 'a deadline already past still gets a positive wait');
  });

  it('a read model that does not reach a write in time is UNAVAILABLE (retry with the request id), not DEADLINE_EXCEEDED', async () => {
    const runtime = new ProjectionRuntime({} as EventStore, []);
    await assert.rejects(runtime.waitFor(5, 1), (e: { code: number; message: string }) => {
      assert.equal(e.code, Code.UNAVAILABLE);
      assert.match(e.message, /the write itself is stored/);
      assert.match(e.message, /same x-request-id/);
      return true;
    });
  });

  it('gives up reading the log\'s head that nobody answers (its leader died), and reads it again for the next caller', async () => {
    let answer: ((n: number) => void) | undefined;
    let calls = 0;
    const reader = new HeadReader(() => {
      calls++;
      return calls === 1 ? new Promise<number>(() => undefined) : new Promise<number>((r) => (answer = r));
    }, 20);
    await assert.rejects(reader.read(), /not read within 20 ms/);
    const next = reader.read();
    answer!(7);
    assert.equal(await next, 7);
  });
});
