import assert from 'node:assert/strict';
import { initialState as nodeInitial } from '../../commands/node/state';
import type { NodeState } from '../../commands/node';
import { initialState as routerInitial } from '../../commands/router/state';
import type { RouterState } from '../../commands/router';
import { PORT_BINDINGS_ANNOTATION } from '../dataplane/host-plan';
import { choosePlacement } from './choose';

const node = (id: string, o: Partial<NodeState> = {}): NodeState => ({
  ...nodeInitial(id),
  registered: true,
  status: 'READY',
  annotations: { [PORT_BINDINGS_ANNOTATION]: 'linux_bridge' },
  ...o,
});
const router = (nodeId = ''): RouterState => ({ ...routerInitial('r-1'), status: 'active', nodeId });

describe('router placement: choosePlacement', () => {
  const table: [string, RouterState, NodeState[], Record<string, number>, ReturnType<typeof choosePlacement>][] = [
    ['an unplaced router goes to the READY node with the fewest routers', router(), [node('a'), node('b')], { a: 2, b: 1 }, { nodeId: 'b', reason: 'first placement' }],
    ['ties go to the lowest id', router(), [node('b'), node('a')], {}, { nodeId: 'a', reason: 'first placement' }],
    ['NOT_READY, deregistered and data-plane-less nodes are not chosen', router(), [node('a', { status: 'NOT_READY' }), node('b', { registered: false }), node('c', { annotations: {} }), node('d')], {}, { nodeId: 'd', reason: 'first placement' }],
    ['a router on a registered node stays, even while the node is NOT_READY', router('a'), [node('a', { status: 'NOT_READY' }), node('b')], {}, undefined],
    ['a router whose node was deregistered moves', router('a'), [node('a', { registered: false }), node('b')], {}, { nodeId: 'b', reason: 'node a was deregistered' }],
    ['a router whose node is unknown moves', router('gone'), [node('b')], {}, { nodeId: 'b', reason: 'node gone was deregistered' }],
    ['no node can take it: nothing (tried again later)', router(), [node('a', { status: 'NOT_READY' })], {}, undefined],
    ['a deleted router is not placed', { ...router(), status: 'deleted' }, [node('a')], {}, undefined],
  ];
  for (const [name, r, nodes, load, want] of table) it(name, () => assert.deepEqual(choosePlacement(r, nodes, new Map(Object.entries(load))), want));
});
