import { createHash } from 'node:crypto';
import type { RouterPlan } from '../../domain/router-plan';
import type { HostRunner } from '../run';

/** The NAT table of a router namespace (the only table there, so one name is enough). */
export const ROUTER_NAT_TABLE = 'hv';
const MARK = 'applied_';

/**
 * A router's NAT as one nftables table in its namespace:
 * - each floating IP: DNAT from the floating IP to the port's fixed IP
 *   (prerouting, so the routing decision already sees the fixed IP), and SNAT
 *   of the fixed IP to the floating IP on the way out of the gateway;
 * - with enable_snat, everything else leaving through the gateway takes the
 *   gateway's (first IPv4) address.
 * Conntrack undoes both for the replies. A router without a gateway has no
 * NAT: '' (no table).
 */
export const renderRouterNat = (r: RouterPlan, gatewayDevice: string): string => {
  const gw = r.gateway;
  if (!gw) return '';
  const v4 = (ip: string) => !ip.includes(':');
  const fips = [...r.floatingIps].filter((f) => v4(f.floatingIp) && v4(f.fixedIp)).sort((a, b) => a.floatingIp.localeCompare(b.floatingIp));
  const snatTo = gw.addresses.find((a) => v4(a.ip))?.ip;
  const pre = fips.map((f) => `    ip daddr ${f.floatingIp} dnat to ${f.fixedIp}`);
  const post = [
    ...fips.map((f) => `    oifname "${gatewayDevice}" ip saddr ${f.fixedIp} snat to ${f.floatingIp}`),
    ...(gw.enableSnat && snatTo ? [`    oifname "${gatewayDevice}" snat to ${snatTo}`] : []),
  ];
  return [
    `table ip ${ROUTER_NAT_TABLE} {`,
    '  chain prerouting {',
    '    type nat hook prerouting priority dstnat; policy accept;',
    ...pre,
    '  }',
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    ...post,
    '  }',
    '}',
    '',
  ].join('\n');
};

const hashOf = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16);

/** The NAT table of one router namespace: read with `nft -j`, replaced whole in one transaction when it differs. */
export class RouterNat {
  constructor(private readonly ns: HostRunner) {}

  /** The hash the table was made from (an empty chain named for it: nft 1.0.6's JSON has no table comments). */
  async appliedHash(): Promise<string | undefined> {
    const out = JSON.parse(await this.ns.run('nft', ['-j', 'list', 'chains', 'ip'])) as { nftables: { chain?: { table: string; name: string } }[] };
    const marks = out.nftables.filter((x) => x.chain?.table === ROUTER_NAT_TABLE && x.chain.name.startsWith(MARK));
    return marks.length === 1 ? marks[0].chain!.name.slice(MARK.length) : undefined;
  }

  /** Makes the table hold `text` ('' = no table). Returns whether it changed anything. */
  async converge(text: string): Promise<boolean> {
    const have = await this.appliedHash();
    if (!text) {
      if (have === undefined && !(await this.present())) return false;
      await this.ns.run('nft', ['-f', '-'], { input: `table ip ${ROUTER_NAT_TABLE}\ndelete table ip ${ROUTER_NAT_TABLE}\n` });
      return true;
    }
    const hash = hashOf(text);
    if (have === hash) return false;
    const body = text.replace(`table ip ${ROUTER_NAT_TABLE} {`, `table ip ${ROUTER_NAT_TABLE} {\n  chain ${MARK}${hash} {\n  }`);
    // Declaring the table first makes the delete valid when there is none: the swap is one transaction either way.
    await this.ns.run('nft', ['-f', '-'], { input: `table ip ${ROUTER_NAT_TABLE}\ndelete table ip ${ROUTER_NAT_TABLE}\n${body}` });
    return true;
  }

  async present(): Promise<boolean> {
    const out = JSON.parse(await this.ns.run('nft', ['-j', 'list', 'tables'])) as { nftables: { table?: { family: string; name: string } }[] };
    return out.nftables.some((x) => x.table?.family === 'ip' && x.table.name === ROUTER_NAT_TABLE);
  }
}
