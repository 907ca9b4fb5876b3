import { readdir } from 'node:fs/promises';
import { NETNS_DIR } from '../names';
import type { HostRunner } from '../run';

/** Named network namespaces (`ip netns`): machine-wide, so names hold the host's tag (names.ts). */
export class Namespaces {
  constructor(private readonly run: HostRunner) {}

  /**
   * The names in the namespaces' directory, read as `ip netns list` reads it: every converge
   * lists them (DHCP, routers, container ports), and a process for each was most of an idle
   * host's data-plane work.
   */
  async list(): Promise<string[]> {
    return readdir(NETNS_DIR).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [];
      throw err;
    });
  }

  async ensure(name: string): Promise<void> {
    await this.run.ip(['netns', 'add', name], { okIf: /File exists/ });
    await this.run.in(name).ip(['link', 'set', 'lo', 'up']);
  }

  /** Processes still inside are the caller's to end first (a namespace lives on while a process is in it). */
  async delete(name: string): Promise<void> {
    await this.run.ip(['netns', 'del', name], { okIf: /No such file/ });
  }

  /** Names the namespace a process is in (a DHCP namespace whose name this process cannot see, but whose dnsmasq runs). */
  async attach(name: string, pid: number): Promise<void> {
    await this.run.ip(['netns', 'attach', name, String(pid)], { okIf: /File exists/ });
  }

  async pids(name: string): Promise<number[]> {
    const out = await this.run.ip(['netns', 'pids', name], { okIf: /No such file/ });
    return out.split(/\s+/).filter(Boolean).map(Number);
  }
}
