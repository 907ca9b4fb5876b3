import { createHash } from 'node:crypto';
import type { SecurityRule } from '../../domain/security-rule';
import { NFT_TABLE } from '../names';
import type { SecurityGroupPlan } from '../../domain/host-plan';
import type { HostRunner } from '../run';

/** What filtering one port gets: its tap, the addresses it may send from, its groups. */
export interface PortFilter {
  readonly device: string;
  readonly mac: string;
  /** '' = the port has no address: it may only ask for one (DHCP). */
  readonly ip: string;
  readonly groups: readonly string[];
}

/**
 * Security groups and anti-spoofing for the ports of a host, as one nftables
 * ruleset in two tables named `hv`:
 * - `bridge hv` sees frames on the bridge with their ports: a frame from a
 *   port must carry the port's MAC and IP (ARP included; DHCP from 0.0.0.0 is
 *   let through), and is marked with the port's number in the high 16 bits; a
 *   frame to a port gets that port's number in the low 16 bits. (The bridge
 *   family has no conntrack on this kernel, so state is kept in inet.)
 * - `inet hv` sees the same packets through br_netfilter, with conntrack:
 *   established and related pass; otherwise the sender's egress chain and the
 *   receiver's ingress chain decide, found by the marks. Ingress is denied
 *   unless a rule allows; egress is denied unless a rule allows (a new group's
 *   default rules allow all). DHCP always passes.
 * remote_group_id rules match a set of the group's member addresses. The
 * whole ruleset is replaced in one transaction, so a change never opens a gap.
 */
export const renderRuleset = (ports: readonly PortFilter[], groups: ReadonlyMap<string, SecurityGroupPlan>): string => {
  const sorted = [...ports].sort((a, b) => a.device.localeCompare(b.device));
  const setName = new Map<string, string>();
  const sets: string[] = [];
  const setOf = (gid: string, v6: boolean): string => {
    const k = `${gid}/${v6 ? 6 : 4}`;
    let n = setName.get(k);
    if (!n) {
      n = `g${setName.size + 1}v${v6 ? 6 : 4}`;
      setName.set(k, n);
      const members = v6 ? groups.get(gid)?.members.v6 ?? [] : groups.get(gid)?.members.v4 ?? [];
      sets.push(`  set ${n} {\n    type ${v6 ? 'ipv6_addr' : 'ipv4_addr'}\n${members.length ? `    elements = { ${[...members].sort().join(', ')} }\n` : ''}  }`);
    }
    return n;
  };
  const bridgeChains: string[] = [];
  const pre: string[] = [];
  const fwdMarks: string[] = [];
  const inetChains: string[] = [];
  const egressMap: string[] = [];
  const ingressMap: string[] = [];
  sorted.forEach((p, i) => {
    const n = i + 1;
    const src = `0x${(n << 16).toString(16)}`;
    const dst = `0x${n.toString(16)}`;
    pre.push(`    iifname "${p.device}" jump s${n}`);
    fwdMarks.push(`    oifname "${p.device}" meta mark set meta mark | ${dst}`);
    const spoof = [
      `    ether saddr != ${p.mac} drop`,
      `    ether type arp arp saddr ether != ${p.mac} drop`,
      `    ether type arp arp saddr ip != { ${p.ip ? `${p.ip}, ` : ''}0.0.0.0 } drop`,
      `    ether type ip ip saddr 0.0.0.0 udp sport 68 udp dport 67 meta mark set ${src} accept`,
      p.ip && !p.ip.includes(':') ? `    ether type ip ip saddr != ${p.ip} drop` : `    ether type ip ip saddr != 0.0.0.0 drop`,
      // No IPv6 address is a port's own here. RARP (0x8035, from the port's own MAC, checked above) is how QEMU's
      // announce-self tells the bridges where a guest that just moved live is: dropped, they would keep sending
      // its frames to the old host until the guest spoke.
      `    ether type != { ip, arp, 0x8035 } drop`,
      `    meta mark set ${src}`,
    ];
    bridgeChains.push(`  chain s${n} {\n${spoof.join('\n')}\n  }`);
    const rules = p.groups.flatMap((g) => groups.get(g)?.rules ?? []);
    const chain = (dir: 'ingress' | 'egress', verdict: string) =>
      rules
        .filter((r) => r.direction === dir)
        .map((r) => `    ${ruleMatch(r, dir, setOf)} ${verdict}`)
        .concat('    drop')
        .join('\n');
    inetChains.push(`  chain e${n} {\n${chain('egress', 'return')}\n  }`, `  chain i${n} {\n${chain('ingress', 'accept')}\n  }`);
    egressMap.push(`${src} : jump e${n}`);
    ingressMap.push(`${dst} : jump i${n}`);
  });
  const bridge = [
    `table bridge ${NFT_TABLE} {`,
    ...bridgeChains,
    `  chain prerouting {\n    type filter hook prerouting priority -300; policy accept;\n${pre.join('\n')}\n  }`,
    // Before br_netfilter's own forward hook (priority -1), which runs inet's.
    `  chain forward {\n    type filter hook forward priority -300; policy accept;\n${fwdMarks.join('\n')}\n  }`,
    '}',
  ];
  const inet = [
    `table inet ${NFT_TABLE} {`,
    ...sets,
    ...inetChains,
    '  chain forward {',
    '    type filter hook forward priority 0; policy accept;',
    // Not from or to a port of ours: not ours to filter.
    '    meta mark 0 accept',
    '    ct state established,related accept',
    '    ct state invalid drop',
    '    udp sport 68 udp dport 67 accept',
    '    udp sport 67 udp dport 68 accept',
    ...(egressMap.length ? [`    meta mark & 0xffff0000 vmap { ${egressMap.join(', ')} }`] : []),
    ...(ingressMap.length ? [`    meta mark & 0x0000ffff vmap { ${ingressMap.join(', ')} }`] : []),
    '  }',
    '}',
  ];
  return `${bridge.join('\n')}\n${inet.join('\n')}\n`;
};

const ruleMatch = (r: SecurityRule, dir: 'ingress' | 'egress', setOf: (gid: string, v6: boolean) => string): string => {
  const v6 = r.etherType === 'IPv6';
  const ip = v6 ? 'ip6' : 'ip';
  const peer = dir === 'ingress' ? 'saddr' : 'daddr';
  const m: string[] = [`meta nfproto ${v6 ? 'ipv6' : 'ipv4'}`];
  if (r.protocol === 'tcp' || r.protocol === 'udp') {
    m.push(`meta l4proto ${r.protocol}`);
    if (r.portRangeMin) m.push(`th dport ${r.portRangeMin === r.portRangeMax ? r.portRangeMin : `${r.portRangeMin}-${r.portRangeMax}`}`);
  } else if (r.protocol === 'icmp') m.push(`meta l4proto ${v6 ? 'ipv6-icmp' : 'icmp'}`);
  else if (r.protocol !== 'any') m.push(`meta l4proto ${Number(r.protocol)}`);
  if (r.remoteIpPrefix) m.push(`${ip} ${peer} ${r.remoteIpPrefix}`);
  if (r.remoteGroupId) m.push(`${ip} ${peer} @${setOf(r.remoteGroupId, v6)}`);
  return m.join(' ');
};

const MARK = 'applied_';

export const rulesetHash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16);

/** The host's `hv` tables: read with `nft -j`, replaced whole in one transaction. */
export class Nft {
  constructor(private readonly run: HostRunner) {}

  /**
   * The hash the current tables were made from, undefined if they are missing
   * or not ours. nft 1.0.6 leaves table comments out of its JSON, so the hash
   * is the name of an empty chain in each table.
   */
  async appliedHash(): Promise<string | undefined> {
    const out = JSON.parse(await this.run.run('nft', ['-j', 'list', 'chains'])) as { nftables: { chain?: { family: string; table: string; name: string } }[] };
    const marks = (family: string) =>
      out.nftables.filter((x) => x.chain?.table === NFT_TABLE && x.chain.family === family && x.chain.name.startsWith(MARK)).map((x) => x.chain!.name.slice(MARK.length));
    const [inet, bridge] = [marks('inet'), marks('bridge')];
    return inet.length === 1 && bridge.length === 1 && inet[0] === bridge[0] ? inet[0] : undefined;
  }

  /** Replaces both tables in one transaction (nothing changes if any of it is refused). */
  async apply(text: string): Promise<void> {
    const hash = rulesetHash(text);
    const body = text.replace(/^(table (?:bridge|inet) hv \{)$/gm, `$1\n  chain ${MARK}${hash} {\n  }`);
    const script = [`table bridge ${NFT_TABLE}`, `delete table bridge ${NFT_TABLE}`, `table inet ${NFT_TABLE}`, `delete table inet ${NFT_TABLE}`, body].join('\n');
    await this.run.run('nft', ['-f', '-'], { input: script });
  }

  /** Applies the ruleset unless the tables already hold it. Returns whether it changed anything. */
  async converge(text: string): Promise<boolean> {
    if ((await this.appliedHash()) === rulesetHash(text)) return false;
    await this.apply(text);
    return true;
  }

  /** Whether any table of ours exists. */
  async present(): Promise<boolean> {
    const out = JSON.parse(await this.run.run('nft', ['-j', 'list', 'tables'])) as { nftables: { table?: { name: string } }[] };
    return out.nftables.some((x) => x.table?.name === NFT_TABLE);
  }

  async remove(): Promise<void> {
    await this.run.run('nft', ['-f', '-'], { input: `table bridge ${NFT_TABLE}\ndelete table bridge ${NFT_TABLE}\ntable inet ${NFT_TABLE}\ndelete table inet ${NFT_TABLE}\n` });
  }
}
