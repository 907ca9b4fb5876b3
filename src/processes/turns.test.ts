import assert from 'node:assert/strict';
import { Turns } from './turns';

describe('Turns', () => {
  it('at one per turn, lets one waiter go per turn of the event loop, in the order they came', async () => {
    const t = new Turns(1);
    const order: string[] = [];
    const all = ['a', 'b', 'c'].map((k) => t.next().then(() => void order.push(k)));
    // Queued after the three: runs in the same check phase as the first release, before the next one.
    const inFirstTurn = new Promise<string[]>((r) => setImmediate(() => r([...order])));
    assert.deepEqual(order, [], 'none goes as a microtask of the caller');
    assert.deepEqual(await inFirstTurn, ['a']);
    await Promise.all(all);
    assert.deepEqual(order, ['a', 'b', 'c']);
  });

  it('lets all that wait go in one turn, after what the loop had in hand, none as a microtask of the caller', async () => {
    const t = new Turns();
    const order: string[] = [];
    const all = ['a', 'b', 'c'].map((k) => t.next().then(() => void order.push(k)));
    const inFirstTurn = new Promise<string[]>((r) => setImmediate(() => r([...order])));
    await Promise.resolve();
    assert.deepEqual(order, []);
    assert.deepEqual(await inFirstTurn, ['a', 'b', 'c']);
    await Promise.all(all);
  });

  it('lets every one of many waiters go, once each (across its bulk cut of those let go)', async () => {
    const t = new Turns(1);
    let went = 0;
    await Promise.all(Array.from({ length: 3_000 }, () => t.next().then(() => void went++)));
    assert.equal(went, 3_000);
    await t.next(); // still lets go after emptying
  });
});
