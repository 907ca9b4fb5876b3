import assert from 'node:assert/strict';
import { isPlacementRefused, whenPlaceable } from './placement';

/** What nats.js throws for a JetStream API error: its message, and the API's answer. */
const apiError = (err_code: number, description: string) => Object.assign(new Error(description), { api_error: { code: 400, err_code, description } });
const refused = () => apiError(10005, 'no suitable peers for placement');

describe('whenPlaceable: making a stream while JetStream cannot place it yet', () => {
  it('knows the placement refusal by its code, not by its words', () => {
    assert.equal(isPlacementRefused(refused()), true);
    assert.equal(isPlacementRefused(apiError(10058, 'stream name already in use with a different configuration')), false);
    assert.equal(isPlacementRefused(new Error('no suitable peers for placement')), false);
  });

  it('makes it again after refusals, and says it waits once at the first', async () => {
    let calls = 0;
    const said: string[] = [];
    const made = await whenPlaceable('stream X on 3 servers', async () => {
      if (++calls < 3) throw refused();
      return 'made';
    }, { onWait: (why) => said.push(why) });
    assert.equal(made, 'made');
    assert.equal(calls, 3);
    assert.equal(said.length, 1);
    assert.match(said[0], /^JetStream cannot place stream X on 3 servers yet \(no suitable peers for placement\): waiting/);
  });

  it('does not wait on any other failure', async () => {
    let calls = 0;
    const other = apiError(10058, 'stream name already in use with a different configuration');
    await assert.rejects(whenPlaceable('stream X', async () => {
      calls++;
      throw other;
    }), (e) => e === other);
    assert.equal(calls, 1);
  });

  it('gives the refusal back once its patience is spent, or once it is aborted', async () => {
    await assert.rejects(whenPlaceable('stream X', async () => { throw refused(); }, { patienceMs: 300 }), /no suitable peers/);
    const stop = new AbortController();
    let calls = 0;
    const waiting = whenPlaceable('stream X', async () => {
      if (++calls === 2) stop.abort();
      throw refused();
    }, { signal: stop.signal });
    await assert.rejects(waiting, /no suitable peers/);
    assert.equal(calls, 2);
  });
});
