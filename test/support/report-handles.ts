/**
 * Mocha root hook: after a test file (parallel runs) or the whole run, says
 * what still keeps the process alive (sockets, timers, child processes), so a
 * test that leaves a handle open is seen in the log, while `exit` in
 * .mocharc.js keeps CI from hanging on it. The process's own stdio and a
 * worker's pipe to mocha are not a test's and are left out.
 */
const OWN = new Set(['PipeWrap', 'TTYWrap']);

export const mochaHooks = {
  afterAll(): void {
    const counts = new Map<string, number>();
    for (const r of process.getActiveResourcesInfo()) if (!OWN.has(r)) counts.set(r, (counts.get(r) ?? 0) + 1);
    if (counts.size === 0) return;
    const open = [...counts].map(([type, n]) => `${type} x${n}`).join(', ');
    process.stderr.write(`\nhandles open as the test file ended (some still closing): ${open}\n`);
  },
};
