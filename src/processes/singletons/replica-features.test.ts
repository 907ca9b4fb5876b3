import assert from 'node:assert/strict';
import pino from 'pino';
import { PER_EVENT_COMMAND_IDS, ReplicaFeatures } from './replica-features';
import type { ReplicaEntry } from './singleton-leases';

const entry = (holder: string, features?: string[]): ReplicaEntry => ({ holder, address: holder, position: 0, singletons: [], at: 0, ...(features ? { features } : {}) });

describe('ReplicaFeatures: a format is written only once every live replica reads it', () => {
  const given = (answer: () => Promise<ReplicaEntry[]>) => new ReplicaFeatures(answer, 60_000, pino({ level: 'silent' }));

  it('is no before it has looked', () => {
    assert.equal(given(async () => [entry('a', [PER_EVENT_COMMAND_IDS])]).everyReplicaHas(PER_EVENT_COMMAND_IDS), false);
  });

  it('is yes when every entry names the feature', async () => {
    const f = given(async () => [entry('a', [PER_EVENT_COMMAND_IDS]), entry('b', ['other', PER_EVENT_COMMAND_IDS])]);
    await f.look();
    assert.equal(f.everyReplicaHas(PER_EVENT_COMMAND_IDS), true);
    assert.equal(f.everyReplicaHas('other'), false, 'one replica does not name it');
  });

  it('is no while one entry names no features (a build from before they were named)', async () => {
    const f = given(async () => [entry('a', [PER_EVENT_COMMAND_IDS]), entry('old')]);
    await f.look();
    assert.equal(f.everyReplicaHas(PER_EVENT_COMMAND_IDS), false);
  });

  it('is no without any entry, and after a look that failed, whatever it saw before', async () => {
    let entries: () => Promise<ReplicaEntry[]> = async () => [entry('a', [PER_EVENT_COMMAND_IDS])];
    const f = given(() => entries());
    await f.look();
    assert.equal(f.everyReplicaHas(PER_EVENT_COMMAND_IDS), true);
    entries = () => Promise.reject(new Error('bucket away'));
    await f.look();
    assert.equal(f.everyReplicaHas(PER_EVENT_COMMAND_IDS), false);
    entries = async () => [];
    await f.look();
    assert.equal(f.everyReplicaHas(PER_EVENT_COMMAND_IDS), false);
  });
});
