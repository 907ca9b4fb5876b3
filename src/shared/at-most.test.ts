import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { atMost } from './at-most';

/** Timers left pending once `expr` (using atMost) settled, counted in a process of its own (mocha keeps timers of its own). */
const timersLeftBy = (expr: string): number =>
  Number(
    execFileSync(process.execPath, ['-e', `
      const { atMost } = require(${JSON.stringify(require.resolve('./at-most'))});
      (async () => { await (${expr}).catch(() => undefined);
        process.stdout.write(String(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length), () => process.exit(0)); })();
    `], { encoding: 'utf8' }),
  );

describe('atMost', () => {
  it("answers the promise's value once it settles first", async () => {
    assert.equal(await atMost(Promise.resolve('exited'), 60_000), 'exited');
  });

  it('answers undefined once the time is up before the promise settles', async () => {
    assert.equal(await atMost(new Promise<string>(() => undefined), 10), undefined);
  });

  it("passes the promise's rejection on", async () => {
    await assert.rejects(atMost(Promise.reject(new Error('gone')), 60_000), /gone/);
  });

  it('leaves no timer once the promise settled first, resolved or rejected (a race with a bare sleep leaves one)', () => {
    assert.equal(timersLeftBy('Promise.race([Promise.resolve(1), new Promise((r) => setTimeout(r, 60_000))])'), 1, 'the bare race, for contrast');
    assert.equal(timersLeftBy('atMost(Promise.resolve(1), 60_000)'), 0);
    assert.equal(timersLeftBy("atMost(Promise.reject(new Error('gone')), 60_000)"), 0);
  });
});
