import { isAlive, scanProcesses } from '../../../shared/process';
import { escapeOpt } from './args';

export interface FoundProcess {
  pid: number;
  /** The instance whose dir the process's QMP socket is in. */
  instanceId: string;
}

/**
 * Every live process whose command line opens a QMP socket in an instance dir under
 * `instancesDir` (`-qmp unix:<instancesDir>/<id>/qmp.sock,…`): this driver's QEMUs, found
 * by pid whatever files are left. Nothing else has such an argument, so no other process
 * is ever picked.
 */
export async function processesUnder(instancesDir: string): Promise<FoundProcess[]> {
  const prefix = `unix:${escapeOpt(instancesDir.replace(/\/+$/, ''))}/`;
  const out: FoundProcess[] = [];
  for (const { pid, cmdline } of await scanProcesses()) {
    for (const arg of cmdline.split('\0')) {
      if (!arg.startsWith(prefix)) continue;
      const m = /^([^/]+)\/qmp\.sock(,|$)/.exec(arg.slice(prefix.length));
      if (m && isAlive(pid)) {
        out.push({ pid, instanceId: m[1] });
        break;
      }
    }
  }
  return out;
}
