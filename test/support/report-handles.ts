/**
 * Mocha root hook: after a test file (parallel runs) or the whole run, says
 * how long the file took, so the suite's slowest files are found in CI's log,
 * and what still keeps the process alive (sockets, timers, child processes),
 * so a test that leaves a handle open is seen in the log, while `exit` in
 * .mocharc.js keeps CI from hanging on it. The process's own stdio and a
 * worker's pipe to mocha are not a test's and are left out.
 */
import path from 'node:path';
import type { Context } from 'mocha';

const OWN = new Set(['PipeWrap', 'TTYWrap']);
let started = 0;

export const mochaHooks = {
  beforeAll(): void {
    started = Date.now();
  },
  afterAll(this: Context): void {
    // In a parallel run each worker's root holds one file's suites; a serial run's root holds every file.
    const files = new Set(this.test?.parent?.suites.map((s) => s.file));
    const [file] = files;
    if (files.size === 1 && file) process.stderr.write(`\nfile ${path.relative(process.cwd(), file)} took ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    const counts = new Map<string, number>();
    for (const r of process.getActiveResourcesInfo()) if (!OWN.has(r)) counts.set(r, (counts.get(r) ?? 0) + 1);
    if (counts.size === 0) return;
    const open = [...counts].map(([type, n]) => `${type} x${n}`).join(', ');
    process.stderr.write(`\nhandles open as the test file ended (some still closing): ${open}\n`);
  },
};
