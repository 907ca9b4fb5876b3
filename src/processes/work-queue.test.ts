import assert from 'node:assert/strict';
import pino from 'pino';
import { Controller } from './controller';
import { KeyedWorkQueue, type ReconcileResult, TerminalError } from './work-queue';

const log = pino({ level: 'silent' });
const waitFor = async (what: string, done: () => boolean, timeoutMs = 2_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('KeyedWorkQueue', () => {
  it('works many queued keys once each, in the order queued (across its bulk cut of taken keys)', async () => {
    const worked: string[] = [];
    const q = new KeyedWorkQueue('test', async (k) => void worked.push(k), log, 3);
    void q.pause();
    const keys = Array.from({ length: 5_000 }, (_, i) => `k${i}`);
    for (const k of keys) q.add(k);
    q.add('k7'); // already queued: once
    q.resume();
    await q.idle();
    assert.deepEqual(worked, keys);
    q.stop();
  });

  it('gives the event loop a turn in a long run of reconciles answered from memory, and still works every key', async () => {
    const worked: string[] = [];
    // Each reconcile holds the thread 1 ms and never waits on I/O: without a turn, 50 of them would run before any I/O callback.
    const q = new KeyedWorkQueue('test', async (k) => {
      const end = performance.now() + 1;
      while (performance.now() < end);
      worked.push(k);
    }, log, 8);
    const keys = Array.from({ length: 50 }, (_, i) => `k${i}`);
    let workedAtTurn = -1;
    setImmediate(() => (workedAtTurn = worked.length));
    for (const k of keys) q.add(k);
    await q.idle();
    assert.ok(workedAtTurn >= 0 && workedAtTurn < keys.length, `the loop turned after ${workedAtTurn} of ${keys.length} reconciles`);
    assert.deepEqual(worked, keys);
    q.stop();
  });

  it('keeps the soonest of two requeues of a key: a later one asked first does not hide it', async () => {
    let calls = 0;
    const q = new KeyedWorkQueue('test', async () => void calls++, log, 1);
    q.addAfter('a', 60_000);
    q.addAfter('a', 10);
    q.addAfter('a', 30_000);
    await waitFor('the soon one', () => calls === 1);
    q.stop();
  });

  it('retries a failing key with backoff until it succeeds', async () => {
    const calls: string[] = [];
    const q = new KeyedWorkQueue(
      'test',
      async (k) => {
        calls.push(k);
        if (calls.length < 3) throw new Error('not yet');
      },
      log,
      1,
      20,
    );
    q.add('a');
    await waitFor('three tries', () => calls.length === 3);
    await q.idle();
    q.stop();
    assert.deepEqual(calls, ['a', 'a', 'a']);
  });

  it('never retries a TerminalError, while an ordinary failure next to it is retried', async () => {
    const calls: Record<string, number> = { a: 0, b: 0 };
    const q = new KeyedWorkQueue(
      'test',
      async (k) => {
        calls[k]++;
        if (k === 'a') throw new TerminalError('the spec can never be met');
        if (calls.b < 3) throw new Error('not yet');
      },
      log,
      2,
      5,
    );
    q.add('a');
    q.add('b');
    // b's two retries came after two backoff periods: a retry of a would have come by then.
    await waitFor('b done after two retries', () => calls.b === 3);
    await q.idle();
    q.stop();
    assert.deepEqual(calls, { a: 1, b: 3 });
  });

  it('starts no reconcile inside add(), and none once paused: a key taken just before pause() is worked on resume()', async () => {
    const worked: string[] = [];
    const q = new KeyedWorkQueue('test', async (k) => void worked.push(k), log, 1);
    q.add('a');
    assert.deepEqual(worked, [], 'not inside add()');
    await q.pause();
    assert.deepEqual(worked, []);
    q.resume();
    await q.idle();
    assert.deepEqual(worked, ['a']);
    q.stop();
  });

  it('queues a key once while it waits, and again when it changed while running', async () => {
    const calls: string[] = [];
    let release!: () => void;
    const q = new KeyedWorkQueue(
      'test',
      async (k) => {
        calls.push(k);
        if (calls.length === 1) await new Promise<void>((r) => (release = r));
      },
      log,
      1,
    );
    q.add('a'); // running
    await waitFor('a running', () => calls.length === 1);
    q.add('a'); // changed while running: once more afterwards
    q.add('b');
    q.add('b'); // waiting: once
    release();
    await waitFor('all done', () => calls.length === 3);
    await q.idle();
    q.stop();
    assert.deepEqual(calls, ['a', 'b', 'a']);
  });

  it('queues a long listing a slice per turn: the first at once, idle() once all are worked, nothing more after stop()', async () => {
    const worked: string[] = [];
    const q = new KeyedWorkQueue('test', async (k) => void worked.push(k), log);
    let listed = 0;
    const keys = function* (n: number) {
      for (let i = 0; i < n; i++) yield (listed++, `k${i}`);
    };
    q.addAll(keys(2_500));
    assert.equal(listed, 1_000, 'one slice listed in the call');
    let turnRan = false;
    setImmediate(() => (turnRan = true));
    await q.idle();
    assert.ok(turnRan, 'the listing gave the event loop its turns');
    assert.equal(worked.length, 2_500);
    assert.deepEqual(worked.slice(0, 2), ['k0', 'k1']);

    const stopped = new KeyedWorkQueue('test', async () => undefined, log);
    listed = 0;
    stopped.addAll(keys(5_000));
    stopped.stop();
    await new Promise(setImmediate);
    assert.equal(listed, 1_000, 'no slice listed after stop()');
  });

  it('ends a listing that throws with an error logged, keeping what it queued, and goes on working', async () => {
    const worked: string[] = [];
    const logged: string[] = [];
    const errors = pino({ level: 'error' }, { write: (line: string) => void logged.push(JSON.parse(line).msg) });
    const q = new KeyedWorkQueue('test', async (k) => void worked.push(k), errors);
    const failing = function* () {
      for (let i = 0; i < 1_500; i++) yield `k${i}`;
      throw new Error('the model could not be read');
    };
    q.addAll(failing());
    q.resyncEvery(60_000, () => {
      throw new Error('no keys at all');
    });
    await q.idle();
    assert.equal(worked.length, 1_500);
    assert.deepEqual(logged, ['test: listing its keys failed', 'test: listing its keys failed']);
    q.add('after');
    await q.idle();
    assert.equal(worked.at(-1), 'after');
    q.stop();
  });

  it('resyncs at once without a start to wait for, and only once it resolves with one', async () => {
    const worked: string[] = [];
    const now = new KeyedWorkQueue('test', async (k) => void worked.push(`now:${k}`), log);
    now.resyncEvery(60_000, () => ['a', 'b']);
    await now.idle();
    assert.deepEqual(worked, ['now:a', 'now:b']);
    now.stop();

    let serve!: () => void;
    const serving = new Promise<void>((r) => (serve = r));
    let asked = 0;
    const later = new KeyedWorkQueue('test', async (k) => void worked.push(`later:${k}`), log);
    later.resyncEvery(60_000, () => (asked++, ['c']), serving);
    later.add('changed');
    await later.idle();
    assert.equal(asked, 0, 'the keys are not even listed before it serves');
    assert.deepEqual(worked.slice(2), ['later:changed'], 'a change is worked meanwhile');
    serve();
    await serving;
    await later.idle();
    assert.equal(asked, 1);
    assert.deepEqual(worked.slice(2), ['later:changed', 'later:c']);
    later.stop();
  });

  it('never resyncs when stopped before its start resolved, or when the start failed', async () => {
    let serve!: () => void;
    const serving = new Promise<void>((r) => (serve = r));
    let asked = 0;
    const q = new KeyedWorkQueue('test', async () => undefined, log);
    q.resyncEvery(10, () => (asked++, ['a']), serving);
    q.stop();
    serve();
    await serving;
    const failed = new KeyedWorkQueue('test', async () => undefined, log);
    failed.resyncEvery(10, () => (asked++, ['a']), Promise.reject(new Error('did not start')));
    // Every promise callback due has run by the next turn: a resync would have listed its keys by then.
    await new Promise(setImmediate);
    failed.stop();
    assert.equal(asked, 0);
  });
});

describe('Controller', () => {
  class Echo extends Controller {
    readonly seen: string[] = [];
    constructor(private readonly after?: number) {
      super('echo', log, 2);
    }
    add(k: string) {
      this.queue.add(k);
    }
    protected async reconcile(k: string): Promise<ReconcileResult> {
      this.seen.push(k);
      if (this.after !== undefined && this.seen.length === 1) return { requeueAfterMs: this.after };
    }
  }

  it('reconciles queued keys and looks again when asked to', async () => {
    const c = new Echo(10);
    c.add('x');
    await waitFor('the requeued look', () => c.seen.length === 2);
    c.stop();
    assert.deepEqual(c.seen, ['x', 'x']);
  });

  it('ends its sources on stop', () => {
    let ended = false;
    const c = new (class extends Echo {
      start() {
        this.watch({ unsubscribe: () => (ended = true) });
      }
    })();
    c.start();
    c.stop();
    assert.equal(ended, true);
  });
});
