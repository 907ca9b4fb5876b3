import { readdirSync, rmSync } from 'node:fs';
import { signal, waitForExit } from '../../shared/process';

/*
 * What the agent's per-subnet daemons (dnsmasq, the metadata servers) share: each
 * runs detached, outliving the agent, with a directory of its own under one dir
 * (its pid file, config, log), named by the subnet.
 */

/** Subnets with a directory under `dir`, their daemon running or not. */
export const subnetsIn = (dir: string): string[] => {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
};

/** Ends a subnet's daemon if it runs (SIGTERM, then a second to go) and removes its directory. */
export const stopAndRemove = async (pid: number | undefined, subnetDir: string): Promise<void> => {
  if (pid) {
    signal(pid, 'SIGTERM');
    await waitForExit(pid, 1_000);
  }
  rmSync(subnetDir, { recursive: true, force: true });
};
