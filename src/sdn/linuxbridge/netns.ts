import { readdir } from 'node:fs/promises';
import { NETNS_DIR } from '../names';
import { type HostRunner, isHostCommandFailed } from '../run';

/** A link inside a namespace with its addresses, as `ip -json addr show` gives it (the fields we read). */
export interface NamespaceLink {
  readonly ifname: string;
  readonly address: string;
  readonly mtu: number;
  readonly flags: readonly string[];
  readonly addr_info?: readonly { readonly family: string; readonly local: string; readonly prefixlen: number; readonly scope?: string }[];
}

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

  /**
   * The links inside a namespace with their addresses, in one process: what a converge compares
   * with what it wants. Undefined where the name leads to no namespace here (a name made in
   * another mount namespace is only an empty file in this one).
   */
  async linksInside(name: string): Promise<NamespaceLink[] | undefined> {
    return this.run
      .in(name)
      .ipJson<NamespaceLink>(['addr', 'show'])
      .catch((err: unknown) => {
        if (isHostCommandFailed(err)) return undefined;
        throw err;
      });
  }

  /** Makes the namespace with its loopback up; what is there already is left as it is. */
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
