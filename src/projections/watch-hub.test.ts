import assert from 'node:assert/strict';
import { Subject } from 'rxjs';
import type { Change } from './change';
import { WatchHub } from './watch-hub';

interface Obj {
  readonly id: string;
  readonly nodeId: string;
}

const change = (id: string, nodeId: string, revision: number): Change<Obj> => ({ type: 'MODIFIED', id, object: { id, nodeId }, revision, time: new Date(0) });
const keysOf = (o: Obj) => (o.nodeId ? [`id:${o.id}`, `node:${o.nodeId}`] : [`id:${o.id}`]);

/** A hub on a subject, and what each of its watchers (by key) was given: revisions in order. */
const given = (keys: (string | undefined)[]) => {
  const changes$ = new Subject<Change<Obj>>();
  const hub = new WatchHub(changes$, keysOf);
  const seen = keys.map(() => [] as number[]);
  const subs = keys.map((key, k) => hub.subscribe(key, { next: (c) => seen[k].push(c.revision), error: () => undefined, complete: () => undefined }));
  return { changes$, hub, seen, subs };
};

describe('WatchHub', () => {
  it('gives a change to the watchers of each key its object has and to those without a key, once each, in order', () => {
    const { changes$, seen } = given([undefined, 'id:a', 'node:n1', 'node:n2', 'id:b', 'id:a']);
    changes$.next(change('a', '', 1)); // not placed yet: no node key
    changes$.next(change('a', 'n1', 2));
    changes$.next(change('b', 'n1', 3));
    changes$.next(change('a', 'n2', 4));
    assert.deepEqual(seen, [[1, 2, 3, 4], [1, 2, 4], [2, 3], [4], [3], [1, 2, 4]]);
  });

  it('gives the change that takes an object off a key to that key\'s watchers as well (a watch of the node it left)', () => {
    const { changes$, seen } = given(['node:n1', 'node:n2']);
    changes$.next(change('a', 'n1', 1));
    changes$.next({ ...change('a', 'n2', 2), previous: { id: 'a', nodeId: 'n1' } });
    changes$.next({ ...change('a', 'n2', 3), previous: { id: 'a', nodeId: 'n2' } });
    assert.deepEqual(seen, [[1, 2], [2, 3]]);
  });

  it('stops giving changes to a watcher that unsubscribed, and keeps the others of its key', () => {
    const { changes$, seen, subs } = given(['node:n1', 'node:n1']);
    changes$.next(change('a', 'n1', 1));
    subs[0].unsubscribe();
    changes$.next(change('a', 'n1', 2));
    subs[1].unsubscribe();
    changes$.next(change('a', 'n1', 3));
    assert.deepEqual(seen, [[1], [1, 2]]);
  });

  it('passes the end of the changes on to every watcher', () => {
    const changes$ = new Subject<Change<Obj>>();
    const hub = new WatchHub(changes$, keysOf);
    const ended: string[] = [];
    for (const key of [undefined, 'id:a', 'node:n1']) hub.subscribe(key, { next: () => undefined, error: () => undefined, complete: () => ended.push(String(key)) });
    changes$.complete();
    assert.deepEqual(ended.sort(), ['id:a', 'node:n1', 'undefined']);
  });
});
