import { readFile } from 'node:fs/promises';

/** /proc/net/dev text: bytes received and sent, summed over interfaces other than loopback (pure). */
export const parseNetDev = (text: string): { rxBytes: number; txBytes: number } => {
  let rxBytes = 0;
  let txBytes = 0;
  for (const line of text.split('\n').slice(2)) {
    const [name, rest] = line.split(':');
    if (!rest || name.trim() === 'lo') continue;
    const f = rest.trim().split(/\s+/).map(Number);
    rxBytes += f[0] ?? 0;
    txBytes += f[8] ?? 0;
  }
  return { rxBytes, txBytes };
};

/** The counters of the network namespace the process runs in. */
export const readNetDev = async (pid: number) => parseNetDev(await readFile(`/proc/${pid}/net/dev`, 'utf8').catch(() => ''));
