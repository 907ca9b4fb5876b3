import assert from 'node:assert/strict';
import type { RouterPlan } from '../../domain/router-plan';
import { parseFlows, staleFlows } from './router-conntrack';

const LIST = `icmp     1 29 src=198.19.96.1 dst=198.19.96.20 type=8 code=0 id=7 src=10.0.0.5 dst=198.19.96.1 type=0 code=0 id=7 mark=0 use=1
tcp      6 431999 ESTABLISHED src=198.19.96.1 dst=198.19.96.21 sport=40000 dport=22 src=10.0.0.6 dst=198.19.96.1 sport=22 dport=40000 [ASSURED] mark=0 use=1
`;

const plan = (fips: [string, string][], snat = true): RouterPlan => ({
  id: 'r',
  interfaces: [],
  gateway: { networkId: 'ext', mac: '02:00:00:00:00:01', addresses: [{ ip: '198.19.96.10', prefixLength: 24 }], nexthop: '198.19.96.1', enableSnat: snat, mtu: 1500 },
  routes: [],
  floatingIps: fips.map(([floatingIp, fixedIp], i) => ({ id: `f${i}`, floatingIp, fixedIp })),
});

describe('router connection state no longer wanted (router-conntrack)', () => {
  it('reads the original and reply addresses of conntrack lines', () => {
    assert.deepEqual(parseFlows(LIST), [
      { origSrc: '198.19.96.1', origDst: '198.19.96.20', replySrc: '10.0.0.5', replyDst: '198.19.96.1' },
      { origSrc: '198.19.96.1', origDst: '198.19.96.21', replySrc: '10.0.0.6', replyDst: '198.19.96.1' },
    ]);
    assert.deepEqual(parseFlows(''), []);
  });

  it('DNAT to a floating IP that went, or that now leads to another fixed IP, is stale; the ones kept are not', () => {
    const flows = parseFlows(LIST);
    assert.deepEqual(staleFlows(plan([['198.19.96.20', '10.0.0.5']]), flows, []).map((f) => f.origDst), ['198.19.96.21']);
    assert.deepEqual(staleFlows(plan([['198.19.96.20', '10.0.0.9'], ['198.19.96.21', '10.0.0.6']]), flows, []).map((f) => f.origDst), ['198.19.96.20']);
  });

  it('SNAT to a floating IP let go is stale; SNAT to the gateway address only while enable_snat holds', () => {
    const out = (to: string) => ({ origSrc: '10.0.0.5', origDst: '198.19.96.1', replySrc: '198.19.96.1', replyDst: to });
    assert.deepEqual(staleFlows(plan([['198.19.96.20', '10.0.0.5']]), [], [out('198.19.96.20'), out('198.19.96.10')]), []);
    assert.deepEqual(staleFlows(plan([]), [], [out('198.19.96.20'), out('198.19.96.10')]).map((f) => f.replyDst), ['198.19.96.20']);
    assert.deepEqual(staleFlows(plan([], false), [], [out('198.19.96.10')]).map((f) => f.replyDst), ['198.19.96.10']);
  });
});
