import assert from 'node:assert/strict';
import path from 'node:path';
import { InstanceType } from '../gen/hypervisor/v1/common';
import { EscapeReader } from './console';
import { CliError } from './exit';
import { formatAge, formatBytes, parseAt, parseBytes, parsePairs, parseTime } from './format';
import { readSpecFile } from './instance-create';

const MiB = 2n ** 20n;

describe('hvctl: what operators type and what they read', () => {
  it('parses sizes as people write them', () => {
    for (const [s, v] of [
      ['256MiB', 256n * MiB],
      ['1GiB', 1024n * MiB],
      ['512M', 512n * MiB],
      ['1G', 1024n * MiB],
      ['1GB', 1_000_000_000n],
      ['4096', 4096n],
      ['2k', 2048n],
    ] as const)
      assert.equal(parseBytes(s), v, s);
    assert.throws(() => parseBytes('lots', '--memory'), (e: CliError) => e.exitCode === 3 && /--memory: "lots" is not a size/.test(e.message));
    assert.throws(() => parseBytes('1.5GiB'), CliError);
  });

  it('shows sizes in binary units, exact when whole', () => {
    assert.deepEqual(
      [0, 512, 1024, 256 * 2 ** 20, 1.5 * 2 ** 30, 14190528, 2 ** 34].map(formatBytes),
      ['0', '512B', '1KiB', '256MiB', '1.5GiB', '13.5MiB', '16GiB'],
    );
    assert.equal(formatBytes(2n ** 33n), '8GiB');
  });

  it('shows ages in one coarse unit', () => {
    const now = Date.parse('2026-03-01T12:00:00Z');
    const ago = (ms: number) => formatAge(new Date(now - ms), now);
    assert.deepEqual([ago(5_000), ago(180_000), ago(5 * 3_600_000), ago(2 * 86_400_000)], ['5s ago', '3m ago', '5h ago', '2d ago']);
    assert.equal(formatAge(undefined), '');
    assert.equal(ago(-10_000), '0s ago');
  });

  it('reads times, revisions and key=value pairs, naming the flag when one is wrong', () => {
    const now = Date.parse('2026-03-01T12:00:00Z');
    assert.equal(parseTime('15m', now).toISOString(), '2026-03-01T11:45:00.000Z');
    assert.equal(parseTime('2026-03-01T10:00:00Z').toISOString(), '2026-03-01T10:00:00.000Z');
    assert.deepEqual(parseAt('1042'), { revision: 1042n });
    assert.throws(() => parseTime('yesterday-ish'), /neither a time/);
    assert.deepEqual(parsePairs(['a=1', 'b=x=y'], '--label'), { a: '1', b: 'x=y' });
    assert.throws(() => parsePairs(['novalue'], '--label'), /--label: "novalue" is not key=value/);
  });

  it('the console escape: Ctrl-] q leaves, Ctrl-] anything else is passed on, across chunks', () => {
    const r = new EscapeReader();
    assert.deepEqual(r.feed(Buffer.from('ls\r')), { send: Buffer.from('ls\r'), leave: false });
    assert.deepEqual(r.feed(Buffer.from([0x1d])), { send: Buffer.alloc(0), leave: false });
    assert.deepEqual(r.feed(Buffer.from('x')), { send: Buffer.from([0x1d, 0x78]), leave: false });
    assert.deepEqual(r.feed(Buffer.from([0x61, 0x1d, 0x71, 0x62])), { send: Buffer.from('a'), leave: true });
  });

  it('reads the example spec file: short type names and sizes', () => {
    const req = readSpecFile(path.join(__dirname, '..', '..', '..', 'examples', 'instance.yaml'));
    assert.equal(req.type, InstanceType.INSTANCE_TYPE_VM);
    assert.equal(req.spec?.memoryBytes, 256n * MiB);
    assert.deepEqual(req.spec?.disks, [{ name: 'root', sizeBytes: 64n * MiB, type: '', boot: true }]);
    assert.equal(req.metadata?.annotations['hypervisor.restart-policy'], 'on-failure');
  });
});
