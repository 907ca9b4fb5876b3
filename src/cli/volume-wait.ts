import { REASON_ANNOTATION } from '../domain/annotations';
import type { Ctx } from './context';
import { CliError, EXIT } from './exit';

/**
 * --wait for volumes and snapshots: asks again until the resource is where
 * it was going (or gone, for a delete), or in ERROR (exit 21, with the reason
 * the agent gave). StorageService has no Watch; its changes take an agent's
 * round, so asking twice a second is quick enough and cheap.
 */
export const waitFor = async <T extends { status: number; metadata?: { annotations: Record<string, string> } }>(
  what: string,
  get: () => Promise<T | undefined>,
  done: (o: T | undefined) => boolean,
  errorStatus: number,
  timeoutSeconds: number,
): Promise<T | undefined> => {
  const deadline = Date.now() + timeoutSeconds * 1000;
  for (;;) {
    const o = await get();
    if (done(o)) return o;
    if (o && o.status === errorStatus)
      throw new CliError(`FAILED: ${what} is in ERROR: ${o.metadata?.annotations[REASON_ANNOTATION] ?? 'no reason given'}`, EXIT.INSTANCE_FAILED);
    if (Date.now() > deadline) throw new CliError(`DEADLINE_EXCEEDED: ${what} did not get there within ${timeoutSeconds}s`, EXIT.DEADLINE_EXCEEDED);
    await new Promise((r) => setTimeout(r, 500));
  }
};

export const WAIT = ['--wait', 'wait until it is done (exit 21 when it ends in ERROR)'] as const;
export const WAIT_TIMEOUT = ['--wait-timeout <seconds>', 'how long --wait waits', (v: string) => Number(v), 300] as const;
