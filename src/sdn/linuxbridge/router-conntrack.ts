import type { RouterPlan } from '../../domain/router-plan';
import type { HostRunner } from '../run';

/** One NATed connection as conntrack shows it: the original direction's addresses and the reply's. */
export interface NatFlow {
  readonly origSrc: string;
  readonly origDst: string;
  readonly replySrc: string;
  readonly replyDst: string;
}

/** `conntrack -L` lines → flows (the first src=/dst= pair is the original direction, the second the reply). */
export const parseFlows = (text: string): NatFlow[] =>
  text
    .split('\n')
    .map((line) => {
      const src = [...line.matchAll(/\bsrc=(\S+)/g)].map((m) => m[1]);
      const dst = [...line.matchAll(/\bdst=(\S+)/g)].map((m) => m[1]);
      return src.length >= 2 && dst.length >= 2 ? { origSrc: src[0], origDst: dst[0], replySrc: src[1], replyDst: dst[1] } : undefined;
    })
    .filter((f): f is NatFlow => !!f);

/**
 * The NATed flows the router's plan no longer has: DNAT from an address that
 * is no longer a floating IP of that fixed IP, SNAT to an address that is no
 * longer the fixed IP's floating IP nor (with enable_snat) the gateway's.
 * Conntrack keeps translating an established flow whatever the rules say now,
 * so a disassociated floating IP would go on answering a ping that never
 * stops (as Neutron's L3 agent, we delete its state).
 */
export const staleFlows = (r: RouterPlan, dnat: readonly NatFlow[], snat: readonly NatFlow[]): NatFlow[] => {
  const pairs = new Set(r.floatingIps.map((f) => `${f.floatingIp}>${f.fixedIp}`));
  const snatTo = r.gateway?.enableSnat ? r.gateway.addresses.find((a) => !a.ip.includes(':'))?.ip : undefined;
  return [
    ...dnat.filter((f) => !pairs.has(`${f.origDst}>${f.replySrc}`)),
    ...snat.filter((f) => !pairs.has(`${f.replyDst}>${f.origSrc}`) && f.replyDst !== snatTo),
  ];
};

/** Deletes the router namespace's NATed flows its plan no longer has (level-triggered: read, compare, delete). */
export const clearStaleFlows = async (ns: HostRunner, r: RouterPlan): Promise<NatFlow[]> => {
  // -g: flows with their destination NATed, -n: with their source NATed. "0 flow entries" goes to stderr.
  const [dnat, snat] = [parseFlows(await ns.run('conntrack', ['-L', '-g'])), parseFlows(await ns.run('conntrack', ['-L', '-n']))];
  const stale = staleFlows(r, dnat, snat);
  for (const f of stale)
    await ns.run('conntrack', ['-D', '-s', f.origSrc, '-d', f.origDst, '-r', f.replySrc, '-q', f.replyDst], { okIf: /0 flow entries have been deleted/ });
  return stale;
};
