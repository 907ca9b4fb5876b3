/**
 * Waits for a condition: polls `fn` until it gives something other than
 * undefined or false, and answers that. Past the deadline it fails, naming
 * what it waited for, so a wait can always fail.
 */
export const until = async <T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs = 10_000): Promise<Exclude<T, false>> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v as Exclude<T, false>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};
