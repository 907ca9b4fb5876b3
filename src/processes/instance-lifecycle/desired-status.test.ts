import assert from 'node:assert/strict';
import type { Migration } from '../../commands/instance';
import { desiredStatusOf } from './desired-status';

const move = (live: boolean): Migration => ({ id: 1, targetNodeId: 'n-2', targetNodeName: 'h-2', live, phase: 'preparing', percent: 0, since: new Date(0) });

describe('desired status told to the agent', () => {
  const table: [string, Parameters<typeof desiredStatusOf>[0], string][] = [
    ['its own status when it does not move', { status: 'RUNNING' }, 'RUNNING'],
    ['RUNNING through a live move (the guest keeps running)', { status: 'RUNNING', migration: move(true) }, 'RUNNING'],
    ['STOPPED through a cold move of a RUNNING one (the source stops it on purpose)', { status: 'RUNNING', migration: move(false) }, 'STOPPED'],
    ['STOPPED through a cold move of a STOPPED one', { status: 'STOPPED', migration: move(false) }, 'STOPPED'],
  ];
  for (const [what, s, want] of table) it(what, () => assert.equal(desiredStatusOf(s), want));
});
