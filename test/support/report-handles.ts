/**
 * Mocha root hook: after the whole run, says what still keeps the process
 * alive (sockets, timers, child processes), so a test that leaves a handle
 * open is seen in the log, while `exit` in .mocharc.js keeps CI from hanging
 * on it.
 */
export const mochaHooks = {
  afterAll(): void {
    const counts = new Map<string, number>();
    for (const r of process.getActiveResourcesInfo()) counts.set(r, (counts.get(r) ?? 0) + 1);
    const open = [...counts].map(([type, n]) => `${type} x${n}`).join(', ');
    process.stderr.write(`\nhandles open as the run ended (some still closing): ${open || 'nothing'}\n`);
  },
};
