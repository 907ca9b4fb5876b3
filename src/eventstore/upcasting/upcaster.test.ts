import assert from 'node:assert/strict';
import { fold } from '../../commands/decider';
import { nodeDecider } from '../../commands/node';
import { splitAddress } from './node';
import type { RecordedEvent } from '../event';
import { UPCASTERS } from './registry';
import { type Upcaster, UpcasterChain } from './upcaster';

const recorded = (type: string, data: unknown, schemaVersion: number, aggregateType = 'node'): RecordedEvent => ({
  id: 'e',
  type,
  data,
  schemaVersion,
  meta: { actor: 'a', correlationId: 'c', causationId: 'c' },
  aggregateType,
  aggregateId: 'n-1',
  revision: 1,
  index: 0,
  commitId: 'k',
  time: new Date(0),
});

const v1Registered = {
  hostname: 'old-host',
  address: '10.0.0.11:50052',
  role: 'WORKER',
  region: 'eu-1',
  zone: 'eu-1a',
  capacity: { cpuCores: 4, memoryBytes: 1024, diskBytes: 0, gpuCount: 0 },
  labels: {},
  annotations: {},
  supportedInstanceTypes: ['vm'],
};

describe('upcaster chain', () => {
  const step = (from: number, up: (d: unknown) => unknown): Upcaster => ({ aggregateType: 't', type: 'E', from, change: `v${from}`, up });

  it('runs every step from the stored version to the current one, in order', () => {
    const chain = new UpcasterChain([
      step(2, (d) => ({ ...(d as object), c: 3 })),
      step(1, (d) => ({ ...(d as object), b: 2 })),
    ]);
    assert.equal(chain.currentVersion('t', 'E'), 3);
    const up = chain.upcast(recorded('E', { a: 1 }, 1, 't'));
    assert.deepEqual(up.data, { a: 1, b: 2, c: 3 });
    assert.equal(up.schemaVersion, 3);
    assert.deepEqual(chain.upcast(recorded('E', { a: 1 }, 2, 't')).data, { a: 1, c: 3 });
  });

  it('leaves current events and types without history untouched (same object)', () => {
    const chain = new UpcasterChain([step(1, (d) => d)]);
    const current = recorded('E', {}, 2, 't');
    assert.equal(chain.upcast(current), current);
    const other = recorded('Other', {}, 1, 't');
    assert.equal(chain.upcast(other), other);
    assert.equal(chain.currentVersion('t', 'Other'), 1);
  });

  it('refuses a chain with a gap, and changes its fingerprint when a step is added', () => {
    assert.throws(() => new UpcasterChain([step(2, (d) => d)]), /missing v1/);
    assert.notEqual(new UpcasterChain([step(1, (d) => d)]).fingerprint, new UpcasterChain([]).fingerprint);
  });

  describe('node: NodeRegistered v1 address "ip:port" → v2 ip and port', () => {
    it('writes v2 for NodeRegistered and NodeReregistered, v1 for the rest', () => {
      assert.equal(UPCASTERS.currentVersion('node', 'NodeRegistered'), 2);
      assert.equal(UPCASTERS.currentVersion('node', 'NodeReregistered'), 2);
      assert.equal(UPCASTERS.currentVersion('node', 'NodeStatusChanged'), 1);
    });

    it('splits IPv4 and bracketed IPv6 addresses', () => {
      assert.deepEqual(splitAddress({ hostname: 'h', address: '10.0.0.11:50052' }), { hostname: 'h', ip: '10.0.0.11', port: 50052 });
      assert.deepEqual(splitAddress({ address: '[fd00::11]:7' }), { ip: 'fd00::11', port: 7 });
      assert.deepEqual(splitAddress({ address: 'fd00::11' }), { ip: 'fd00::11', port: 0 });
      assert.deepEqual(splitAddress({ ip: '1.2.3.4', port: 1 }), { ip: '1.2.3.4', port: 1 });
    });

    it('folds a v1 history through the current evolve', () => {
      const s = fold(nodeDecider, 'n-1', [UPCASTERS.upcast(recorded('NodeRegistered', v1Registered, 1))] as never);
      assert.equal(s.ip, '10.0.0.11');
      assert.equal(s.port, 50052);
      assert.equal((s as unknown as Record<string, unknown>).address, undefined);
    });
  });
});
