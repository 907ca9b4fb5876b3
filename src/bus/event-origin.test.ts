import assert from 'node:assert/strict';
import type { RecordedEvent } from '../eventstore/event';
import { step } from './dispatcher';
import { reactionTo } from './event-origin';

describe('causality of commands', () => {
  const requested = {
    id: 'evt-1',
    type: 'InstanceRequested',
    meta: { actor: 'alice', correlationId: 'corr-create', causationId: 'req-1' },
  } as RecordedEvent;

  it('a reaction to an event: system actor, the request correlation, the event as cause, a stable id', () => {
    const o = reactionTo('scheduler', requested, 'reserve');
    assert.deepEqual(o.meta, { actor: 'system:scheduler', correlationId: 'corr-create', causationId: 'evt-1' });
    assert.equal(o.commandId, 'evt-1:reserve');
    assert.equal(reactionTo('scheduler', requested, 'reserve').commandId, o.commandId, 'redelivery repeats nothing');
  });

  it('a further step of one request keeps its actor, correlation and cause', () => {
    const o = step({ commandId: 'req-1', meta: requested.meta, timeoutMs: 1 }, 'ready');
    assert.deepEqual([o.commandId, o.meta], ['req-1:ready', requested.meta]);
  });
});
