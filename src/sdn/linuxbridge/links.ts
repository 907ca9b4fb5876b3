import { FailedPrecondition } from '../../errors';
import { type HostRunner, isHostCommandFailed } from '../run';

/** A link as `ip -json -details link show` describes it (the fields we read). */
export interface Link {
  readonly ifname: string;
  readonly ifindex: number;
  readonly mtu: number;
  readonly address: string;
  readonly master?: string;
  readonly flags: readonly string[];
  readonly operstate: string;
  readonly kind?: string;
  readonly vxlan?: { readonly id: number; readonly local?: string; readonly port?: number; readonly learning?: boolean };
  readonly vlan?: { readonly id: number };
  /** Parent of a VLAN sub-interface. */
  readonly link?: string;
  readonly stats?: { readonly rx: { readonly bytes: number; readonly packets: number }; readonly tx: { readonly bytes: number; readonly packets: number } };
}

interface RawLink {
  ifname: string;
  ifindex: number;
  mtu: number;
  address: string;
  master?: string;
  flags?: string[];
  operstate?: string;
  link?: string;
  linkinfo?: { info_kind?: string; info_data?: Record<string, unknown> };
  stats64?: { rx: { bytes: number; packets: number }; tx: { bytes: number; packets: number } };
}

const toLink = (r: RawLink): Link => {
  const kind = r.linkinfo?.info_kind;
  const data = r.linkinfo?.info_data ?? {};
  return {
    ifname: r.ifname,
    ifindex: r.ifindex,
    mtu: r.mtu,
    address: r.address,
    ...(r.master ? { master: r.master } : {}),
    flags: r.flags ?? [],
    operstate: r.operstate ?? 'UNKNOWN',
    ...(kind ? { kind } : {}),
    ...(kind === 'vxlan' ? { vxlan: { id: Number(data.id), local: data.local as string | undefined, port: data.port as number | undefined, learning: data.learning as boolean | undefined } } : {}),
    ...(kind === 'vlan' ? { vlan: { id: Number(data.id) } } : {}),
    ...(r.link ? { link: r.link } : {}),
    ...(r.stats64 ? { stats: { rx: r.stats64.rx, tx: r.stats64.tx } } : {}),
  };
};

/** Links, bridges, taps, VXLAN and VLAN devices. Each ensure is idempotent: the same settings again change nothing. */
export class Links {
  constructor(private readonly run: HostRunner) {}

  async list(): Promise<Map<string, Link>> {
    const raw = await this.run.ipJson<RawLink>(['-details', '-statistics', 'link', 'show']);
    return new Map(raw.map((r) => [r.ifname, toLink(r)]));
  }

  async get(name: string): Promise<Link | undefined> {
    const raw = await this.run.ipJson<RawLink>(['-details', '-statistics', 'link', 'show', 'dev', name], { okIf: /does not exist/ });
    return raw[0] && toLink(raw[0]);
  }

  async ensureBridge(have: Link | undefined, name: string, mtu: number): Promise<void> {
    if (have && have.kind !== 'bridge') await this.delete(name);
    if (!have || have.kind !== 'bridge')
      // No STP and no forwarding delay: a port forwards as soon as it is up. Our prefix says it is ours.
      await this.run.ip(['link', 'add', name, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0'], { okIf: /File exists/ });
    await this.settle(have?.kind === 'bridge' ? have : undefined, name, { mtu });
  }

  /** A persistent tap: QEMU opens it by name, and it outlives QEMU and the agent. */
  async ensureTap(have: Link | undefined, name: string, mtu: number, master: string): Promise<void> {
    if (have && have.kind !== 'tun') await this.delete(name);
    if (!have || have.kind !== 'tun') await this.run.ip(['tuntap', 'add', 'dev', name, 'mode', 'tap'], { okIf: /busy|exists/i });
    await this.settle(have?.kind === 'tun' ? have : undefined, name, { mtu, master });
  }

  /** VXLAN with a fixed VNI, local address and port, learning off: its forwarding table is ours to fill (fdb.ts). */
  async ensureVxlan(have: Link | undefined, name: string, o: { vni: number; local: string; port: number; mtu: number; master: string }): Promise<void> {
    const same = have?.kind === 'vxlan' && have.vxlan?.id === o.vni && have.vxlan.local === o.local && have.vxlan.port === o.port && have.vxlan.learning === false;
    if (have && !same) await this.delete(name); // a VNI or address cannot be changed in place
    if (!same)
      await this.run.ip(['link', 'add', name, 'type', 'vxlan', 'id', String(o.vni), 'local', o.local, 'dstport', String(o.port), 'nolearning'], { okIf: /File exists/ });
    await this.settle(same ? have : undefined, name, { mtu: o.mtu, master: o.master });
  }

  /** An 802.1Q sub-interface of a host interface. */
  async ensureVlan(have: Link | undefined, name: string, o: { parent: string; vlanId: number; mtu: number; master: string }): Promise<void> {
    const same = have?.kind === 'vlan' && have.vlan?.id === o.vlanId && have.link === o.parent;
    if (have && !same) await this.delete(name);
    if (!same)
      await this.run.ip(['link', 'add', 'link', o.parent, 'name', name, 'type', 'vlan', 'id', String(o.vlanId)], { okIf: /File exists/ }).catch((e) => {
        // A kernel built without CONFIG_VLAN_8021Q (and no 8021q module) knows no "vlan" links: say so, not only what ip said.
        if (isHostCommandFailed(e) && /Unknown device type/.test(e.stderr))
          throw new FailedPrecondition(`this node's kernel cannot make 802.1Q VLAN interfaces (no 8021q support), so VLAN ${o.vlanId} on ${o.parent} cannot be realised: ${e.message}`);
        throw e;
      });
    await this.settle(same ? have : undefined, name, { mtu: o.mtu, master: o.master });
  }

  /**
   * A veth pair whose peer goes into another namespace. Answers whether the pair was made (what
   * was looked at inside that namespace before is then out of date).
   */
  async ensureVeth(have: Link | undefined, name: string, peer: string, peerNetns: string, o: { mtu: number; master: string }): Promise<boolean> {
    const made = have?.kind !== 'veth';
    if (have && made) await this.delete(name);
    if (made) await this.run.ip(['link', 'add', name, 'mtu', String(o.mtu), 'type', 'veth', 'peer', 'name', peer, 'mtu', String(o.mtu), 'netns', peerNetns]);
    await this.settle(made ? undefined : have, name, o);
    return made;
  }

  /** Puts a host interface we did not make (a physical NIC, a container's veth) on a bridge. */
  async attach(name: string, master: string): Promise<void> {
    await this.settle(await this.get(name), name, { master });
  }

  async delete(name: string): Promise<void> {
    await this.run.ip(['link', 'del', 'dev', name], { okIf: /does not exist|Cannot find device/ });
  }

  /** MTU, bridge and up: set only what differs. */
  private async settle(have: Link | undefined, name: string, want: { mtu?: number; master?: string }): Promise<void> {
    if (want.mtu && have?.mtu !== want.mtu) await this.run.ip(['link', 'set', 'dev', name, 'mtu', String(want.mtu)]);
    if (want.master && have?.master !== want.master) await this.run.ip(['link', 'set', 'dev', name, 'master', want.master]);
    if (!have?.flags.includes('UP')) await this.run.ip(['link', 'set', 'dev', name, 'up']);
  }
}
