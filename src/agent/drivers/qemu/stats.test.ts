import assert from 'node:assert/strict';
import { cpuPercent } from '../cpu-usage';
import { parseProcStat } from '../../../shared/proc-stat';
import { parseProcStatus, readProcSample, sumBlockStats } from './stats';

describe('qemu stats parsing', () => {
  it('reads CPU times from /proc/<pid>/stat even when the name holds spaces and parens', () => {
    const fields = ['S', '1', '2', '3', '0', '-1', '4194560', '100', '0', '0', '0', /*utime*/ '150', /*stime*/ '50', /*cutime*/ '30', /*cstime*/ '70', '20', '0', '3', '0', /*starttime*/ '1000'];
    const s = parseProcStat(`1234 (qemu (x) y) ${fields.join(' ')} 0 0`);
    assert.equal(s.state, 'S');
    assert.equal(s.ppid, 1);
    assert.equal(s.cpuTimeNs, 2e9);
    assert.equal(s.childrenCpuTimeNs, 1e9);
    assert.equal(s.startTimeNs, 10e9);
  });

  it('reads RSS from /proc/<pid>/status', () => {
    assert.deepEqual(parseProcStatus('Name:\tqemu\nVmRSS:\t  2048 kB\nRssAnon:\t1024 kB\nRssFile:\t  512 kB\n'), { rssBytes: 2048 * 1024, rssFileBytes: 512 * 1024 });
  });

  it('reads this process for real', async () => {
    const s = await readProcSample(process.pid);
    assert.ok(s.cpuTimeNs > 0 && s.rssBytes > 0);
    // The wall clock when this process began, as Node.js took it then.
    assert.ok(Math.abs(s.startedAt.getTime() - performance.timeOrigin) < 5_000, `started at ${s.startedAt.toISOString()}, this process at ${new Date(performance.timeOrigin).toISOString()}`);
  });

  it('computes usage where 100 is one CPU', () => {
    assert.equal(cpuPercent({ cpuTimeNs: 0, atMs: 0 }, { cpuTimeNs: 5e8, atMs: 1000 }), 50);
    assert.equal(cpuPercent({ cpuTimeNs: 0, atMs: 1000 }, { cpuTimeNs: 5e8, atMs: 1000 }), 0);
  });

  it('sums query-blockstats over drives', () => {
    assert.deepEqual(sumBlockStats([{ stats: { rd_bytes: 10, wr_bytes: 1 } }, { stats: { rd_bytes: 5, wr_bytes: 2 } }, {}]), { readBytes: 15, writeBytes: 3 });
  });
});
