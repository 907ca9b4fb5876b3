import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

/**
 * Runs fn under the V8 CPU profiler when `file` is given and writes the
 * profile there (open it in Chrome's DevTools): the phase being measured
 * alone, where `node --cpu-prof` would also hold the set-up.
 */
export const profiled = async <T>(file: string | undefined, fn: () => Promise<T>): Promise<T> => {
  if (!file) return fn();
  const s = new Session();
  s.connect();
  const post = (method: string) => new Promise<unknown>((resolve, reject) => s.post(method, (err, res) => (err ? reject(err) : resolve(res))));
  await post('Profiler.enable');
  await post('Profiler.start');
  try {
    return await fn();
  } finally {
    const { profile } = (await post('Profiler.stop')) as { profile: unknown };
    writeFileSync(file, JSON.stringify(profile));
    s.disconnect();
  }
};
