import assert from 'node:assert/strict';
import { touchesNetwork, type InstanceWork } from './protocol';

type W = Pick<InstanceWork, 'action' | 'network' | 'migration'>;
const port = { ports: [{}] } as unknown as InstanceWork['network'];
const none = { ports: [] } as unknown as InstanceWork['network'];

describe('work and the data plane: which work is followed by a network converge', () => {
  it('a create, start, restart or stop of an instance without a port is not', () => {
    for (const action of ['create', 'start', 'restart', 'stop'] as const) {
      assert.equal(touchesNetwork({ action } as W), false, action);
      assert.equal(touchesNetwork({ action, network: none } as W), false, `${action} with an empty plan`);
    }
  });

  it('work that carries a port is', () => assert.equal(touchesNetwork({ action: 'create', network: port } as W), true));

  it('a delete or cleanup is when the instance had ports here, or this host has no record of it (it carries no plan)', () => {
    assert.equal(touchesNetwork({ action: 'delete' } as W, { network: port }), true);
    assert.equal(touchesNetwork({ action: 'cleanup' } as W, { network: port }), true);
    assert.equal(touchesNetwork({ action: 'delete' } as W), true, 'no record');
    assert.equal(touchesNetwork({ action: 'cleanup' } as W, { migration: {} } as W), true, 'a moved guest');
  });

  it('a delete or cleanup of an instance that had no port here is not', () => {
    assert.equal(touchesNetwork({ action: 'delete' } as W, {}), false);
    assert.equal(touchesNetwork({ action: 'delete' } as W, { network: none }), false);
  });

  it('a move is, with or without ports', () => {
    assert.equal(touchesNetwork({ action: 'create', migration: {} } as W), true);
    assert.equal(touchesNetwork({ action: 'migrate-in' } as W), true);
  });
});
