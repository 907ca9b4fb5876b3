/**
 * Waits for `p`, but no longer than `ms`: undefined then. The timer is cleared either way,
 * so a wait that `p` ended leaves nothing pending (a race with a bare sleep keeps the sleep's
 * timer until it runs out, and a stopped agent's process is held open by it).
 */
export const atMost = async <T>(p: Promise<T>, ms: number): Promise<T | undefined> => {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
};
