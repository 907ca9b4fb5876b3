import assert from 'node:assert/strict';
import { gunzipSync, gzipSync } from 'node:zlib';
import { nodeDecider, type NodeEvent } from '../commands/node';
import { toNode } from '../wire/views/node';
import type { RecordedEvent } from '../eventstore/event';
import { AggregateIndex } from '../audit/aggregate-index';
import { EntityReadModel } from './entity-read-model';
import { encodeSnapshot } from './snapshot-codec';
import { type DocHead, encodeFrames, FrameReader, MAGIC, type SectionHead } from './snapshot-frames';
import { MemorySnapshotStore } from './memory-snapshot-store.testing';
import { Snapshotter } from './snapshotter';

const registered = (rev: number, id: string): RecordedEvent[] => {
  const e: NodeEvent = {
    type: 'NodeRegistered',
    data: { hostname: id, ip: '10.0.0.1', port: 1, role: 'WORKER', region: 'r', zone: 'z', capacity: { cpuCores: 4, memoryBytes: 1, diskBytes: 1, gpuCount: 0 }, labels: {}, annotations: {}, supportedInstanceTypes: ['vm'] },
  };
  return [{ ...e, id: `e${rev}`, schemaVersion: 2, meta: { actor: 'a', correlationId: 'c', causationId: 'c' }, aggregateType: 'node', aggregateId: id, revision: rev, index: 0, commitId: `k${rev}`, time: new Date(1000 * rev) }];
};

const models = () => [new EntityReadModel({ decider: nodeDecider, view: toNode }), new AggregateIndex()] as const;
const filled = () => {
  const ms = models();
  for (let r = 1; r <= 40; r++) for (const m of ms) m.applyCommit(registered(r, `n${r % 9}`));
  return ms;
};

describe('snapshot sections (formats 2 and 3)', () => {
  for (const size of [0, 1, 5, 4096]) {
    it(`restore what was taken, sections of JSON and of bytes, read ${size ? `in chunks of ${size} bytes` : 'whole'}`, async () => {
      const [nodes, index] = filled();
      const store = new MemorySnapshotStore(undefined, size);
      assert.equal(await new Snapshotter(store, [nodes, index], { upcasters: 'u' }).take(40), true);
      assert.ok(MAGIC.equals(Buffer.from(store.data!.subarray(0, MAGIC.length))));
      const [nodes2, index2] = models();
      const r = await new Snapshotter(store, [nodes2, index2], { upcasters: 'u' }).restore();
      assert.deepEqual([r.from, r.restored], [40, ['nodes', 'aggregate-index']]);
      assert.deepEqual(nodes2.list(), nodes.list());
      assert.deepEqual([...index2.entries()], [...index.entries()]);
    });
  }

  it('a snapshot cut short, even between two sections, is unreadable and restores nothing', async () => {
    const [nodes, index] = filled();
    const store = new MemorySnapshotStore(undefined, 3);
    await new Snapshotter(store, [nodes, index], { upcasters: 'u' }).take(40);
    const whole = Buffer.from(store.data!);
    // The same head (naming both sections) and the first section only: cut exactly between the two.
    let head: DocHead | undefined;
    const sections: { head: SectionHead; body: Buffer }[] = [];
    new FrameReader({ head: (h) => (head = h), section: (h, body) => sections.push({ head: h, body }) }).push(whole);
    assert.deepEqual(head?.sections, ['nodes', 'aggregate-index']);
    const between = encodeFrames(head!, sections.slice(0, 1));
    assert.ok(whole.subarray(0, between.length).equals(between));
    for (const cut of [whole.length - 1, between.length, 20]) {
      store.data = whole.subarray(0, cut);
      const [nodes2, index2] = models();
      const r = await new Snapshotter(store, [nodes2, index2], { upcasters: 'u' }).restore();
      assert.match(r.skipped[0], /unreadable/);
      assert.deepEqual([r.from, nodes2.size, [...index2.entries()].length], [0, 0, 0]);
    }
  });

  it('refuses a head that names sections the bytes do not hold', () => {
    const r = new FrameReader({ head: () => undefined, section: () => undefined });
    const head = Buffer.from(JSON.stringify({ format: 2, upcasters: 'u', position: 1, takenAt: '', sections: ['a'] }));
    const len = Buffer.alloc(4);
    len.writeUInt32BE(head.length);
    r.push(Buffer.concat([MAGIC, len, head]));
    assert.throws(() => r.end(), /sections , its head names a/);
  });

  it('writes format 3, whose sections say where their tags are: Dates as numbers, restored as Dates', async () => {
    const [nodes] = filled();
    const store = new MemorySnapshotStore();
    await new Snapshotter(store, [nodes], { upcasters: 'u' }).take(40);
    let head: DocHead | undefined;
    const sections: { head: SectionHead; body: Buffer }[] = [];
    new FrameReader({ head: (h) => (head = h), section: (h, body) => sections.push({ head: h, body }) }).push(Buffer.from(store.data!));
    assert.equal(head?.format, 3);
    // The change times are plain numbers (in the states' order): no tag for them.
    assert.deepEqual((sections[0].head.tags as { f: unknown }).f, { states: { e: { e: { f: { createdAt: 'd', updatedAt: 'd', statusSince: 'd' } } } } });
    assert.doesNotMatch(gunzipSync(sections[0].body).toString(), /"date"/);
    const [nodes2] = models();
    await new Snapshotter(store, [nodes2], { upcasters: 'u' }).restore();
    assert.deepEqual(nodes2.list(), nodes.list());
    assert.ok(nodes2.state('n1')!.createdAt instanceof Date);
    assert.deepEqual(nodes2.lastChanged('n1'), nodes.lastChanged('n1'));
  });

  it('still restores format 2 (sections without tags, every Date tagged), read whole or in chunks', async () => {
    const [nodes] = filled();
    const body = Buffer.from(encodeSnapshot(nodes.snapshot()));
    const doc = encodeFrames({ format: 2, upcasters: 'u', position: 40, takenAt: 'x', sections: ['nodes'] }, [
      { head: { name: 'nodes', version: nodes.snapshotVersion, kind: 'json', length: body.length }, body: gzipSync(body) },
    ]);
    for (const size of [0, 7]) {
      const [nodes2] = models();
      const r = await new Snapshotter(new MemorySnapshotStore(doc, size), [nodes2], { upcasters: 'u' }).restore();
      assert.deepEqual([r.from, r.restored], [40, ['nodes']]);
      assert.deepEqual(nodes2.list(), nodes.list());
      assert.ok(nodes2.state('n1')!.createdAt instanceof Date);
    }
  });

  it('writes a section whose places are too many to describe without tags, as format 2 did, and restores it', async () => {
    // 64 × 64 fields of long names, each a Date: tags of over 256 KiB.
    const long = (i: number) => `${String(i).padStart(3, '0')}-${'x'.repeat(60)}`;
    const wide = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [long(i), Object.fromEntries(Array.from({ length: 64 }, (_, j) => [long(j), new Date(i * 64 + j)]))]));
    const holds = (data?: unknown) => {
      const m = { name: 'wide', snapshotVersion: '1', position: 0, data, applyCommit: () => undefined, snapshot: () => m.data, restore: (d: unknown) => (m.data = d) };
      return m;
    };
    const store = new MemorySnapshotStore();
    assert.equal(await new Snapshotter(store, [holds(wide)], { upcasters: 'u' }).take(1), true);
    const sections: SectionHead[] = [];
    new FrameReader({ head: () => undefined, section: (h) => sections.push(h) }).push(Buffer.from(store.data!));
    assert.equal(sections[0].tags, undefined);
    const back = holds();
    await new Snapshotter(store, [back], { upcasters: 'u' }).restore();
    assert.deepEqual(back.data, wide);
  });

  it('still restores a snapshot of format 1 (one gzipped JSON document), read whole or in chunks', async () => {
    const [nodes] = filled();
    const doc = `{"format":1,"upcasters":"u","position":40,"takenAt":"x","models":{"nodes":{"version":${JSON.stringify(nodes.snapshotVersion)},"data":${encodeSnapshot(nodes.snapshot())}}}}`;
    for (const size of [0, 7]) {
      const [nodes2] = models();
      const r = await new Snapshotter(new MemorySnapshotStore(gzipSync(doc), size), [nodes2], { upcasters: 'u' }).restore();
      assert.deepEqual([r.from, r.restored], [40, ['nodes']]);
      assert.deepEqual(nodes2.list(), nodes.list());
    }
  });
});
