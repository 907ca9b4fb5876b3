import assert from 'node:assert/strict';
import { AlreadyExists, InvalidArgument } from '../../errors';
import { canonicalAddress, formatAddress, parseAddress } from './address';
import { checkRequested, firstFree } from './allocate';
import { overlaps, parseCidr } from './cidr';
import { macFromBytes, parseMac } from './mac';
import { inPools, poolsToText, resolveLayout, type SubnetLayout } from './pools';
import { SortedMap } from './sorted-map';

const v4 = (s: string) => parseAddress('ip', s, 4).value;
const v6 = (s: string) => parseAddress('ip', s, 6).value;
const layout = (cidr: string, gatewayIp = '', allocationPools: { start: string; end: string }[] = []) =>
  resolveLayout({ cidr, gatewayIp, allocationPools });
const text = (l: SubnetLayout) => ({ gateway: formatAddress(l.cidr.version, l.gateway), pools: poolsToText(l.cidr.version, l.pools) });
const takenOf = (values: bigint[]) => SortedMap.of<bigint, true>(values.map((v) => [v, true] as const));
const throwsWith = (fn: () => unknown, type: new (...a: never[]) => Error, message: RegExp) =>
  assert.throws(fn, (e: unknown) => e instanceof type && message.test((e as Error).message));

describe('ipam', () => {
  describe('addresses', () => {
    it('canonicalises IPv6 and refuses odd IPv4 forms and zones', () => {
      assert.equal(canonicalAddress('ip', '2001:DB8:0:0::1'), '2001:db8::1');
      throwsWith(() => parseAddress('ip', '10.1'), InvalidArgument, /ip: "10.1" is not an IPv4 or IPv6 address/);
      throwsWith(() => parseAddress('ip', '010.0.0.1'), InvalidArgument, /not an IPv4 or IPv6/);
      throwsWith(() => parseAddress('ip', 'fe80::1%eth0'), InvalidArgument, /not an IPv4 or IPv6/);
      throwsWith(() => parseAddress('ip', '::1', 4), InvalidArgument, /ip: ::1 is an IPv6 address; IPv4 is needed/);
      throwsWith(() => parseAddress('ip', ''), InvalidArgument, /ip: is required/);
    });
  });

  describe('parseCidr', () => {
    it('parses IPv4 and IPv6 networks to their first and last address', () => {
      const a = parseCidr('cidr', '10.0.0.0/24');
      assert.deepEqual([a.version, a.prefix, a.first, a.last, a.text], [4, 24, v4('10.0.0.0'), v4('10.0.0.255'), '10.0.0.0/24']);
      const b = parseCidr('cidr', '2001:DB8:0::/64');
      assert.equal(b.text, '2001:db8::/64');
      assert.equal(b.last - b.first + 1n, 2n ** 64n);
    });
    it('names the field and the reason', () => {
      throwsWith(() => parseCidr('cidr', '10.0.0.0/33'), InvalidArgument, /^cidr: "10.0.0.0\/33" is not a valid CIDR \(an IPv4 prefix length is 0 to 32\)/);
      throwsWith(() => parseCidr('cidr', '2001:db8::/129'), InvalidArgument, /is not a valid CIDR/);
      throwsWith(() => parseCidr('cidr', '10.0.0.0'), InvalidArgument, /cidr: "10.0.0.0" is not a valid CIDR \(expected address\/prefix length/);
      throwsWith(() => parseCidr('cidr', 'banana/8'), InvalidArgument, /banana is not an IPv4 or IPv6 address/);
      throwsWith(() => parseCidr('cidr', '10.0.0.5/24'), InvalidArgument, /has host bits set; the network is 10.0.0.0\/24/);
      throwsWith(() => parseCidr('cidr', '10.0.0.0/024'), InvalidArgument, /not a valid CIDR/);
      throwsWith(() => parseCidr('remote_ip_prefix', '10.0.0.0/8', 6), InvalidArgument, /remote_ip_prefix: 10.0.0.0\/8 is an IPv4 network; IPv6 is needed/);
    });
    it('tells overlapping networks', () => {
      const c = (s: string) => parseCidr('cidr', s);
      assert.ok(overlaps(c('10.0.0.0/16'), c('10.0.5.0/24')));
      assert.ok(!overlaps(c('10.0.0.0/24'), c('10.0.1.0/24')));
      assert.ok(!overlaps(c('10.0.0.0/8'), c('::/0')));
    });
  });

  describe('resolveLayout', () => {
    it('defaults as Neutron: gateway = first usable, one pool of the rest (IPv4)', () =>
      assert.deepEqual(text(layout('10.0.0.0/24')), { gateway: '10.0.0.1', pools: [{ start: '10.0.0.2', end: '10.0.0.254' }] }));
    it('defaults as Neutron for IPv6 (the last address is usable, there is no broadcast)', () =>
      assert.deepEqual(text(layout('2001:db8::/64')), {
        gateway: '2001:db8::1',
        pools: [{ start: '2001:db8::2', end: '2001:db8::ffff:ffff:ffff:ffff' }],
      }));
    it('splits the default pool around a gateway in the middle', () =>
      assert.deepEqual(text(layout('10.0.0.0/29', '10.0.0.4')).pools, [
        { start: '10.0.0.1', end: '10.0.0.3' },
        { start: '10.0.0.5', end: '10.0.0.6' },
      ]));
    it('keeps the last usable address as gateway with one pool below', () =>
      assert.deepEqual(text(layout('10.0.0.0/29', '10.0.0.6')).pools, [{ start: '10.0.0.1', end: '10.0.0.5' }]));
    it('accepts a /30 (gateway and one address) and refuses a /31', () => {
      assert.deepEqual(text(layout('10.0.0.0/30')).pools, [{ start: '10.0.0.2', end: '10.0.0.2' }]);
      throwsWith(() => layout('10.0.0.0/31'), InvalidArgument, /cidr: 10.0.0.0\/31 is too small/);
      throwsWith(() => layout('2001:db8::/127'), InvalidArgument, /too small/);
    });
    it('sorts given pools', () =>
      assert.deepEqual(
        text(layout('10.0.0.0/24', '', [{ start: '10.0.0.100', end: '10.0.0.200' }, { start: '10.0.0.10', end: '10.0.0.20' }])).pools,
        [{ start: '10.0.0.10', end: '10.0.0.20' }, { start: '10.0.0.100', end: '10.0.0.200' }],
      ));
    for (const [what, run, message] of [
      ['a gateway outside the CIDR', () => layout('10.0.0.0/24', '10.0.1.1'), /gateway_ip: 10.0.1.1 is outside 10.0.0.0\/24/],
      ['the network address as gateway', () => layout('10.0.0.0/24', '10.0.0.0'), /gateway_ip: 10.0.0.0 is the network address/],
      ['the broadcast address as gateway', () => layout('10.0.0.0/24', '10.0.0.255'), /gateway_ip: 10.0.0.255 is the broadcast address/],
      ['an IPv6 gateway on IPv4', () => layout('10.0.0.0/24', '::1'), /gateway_ip: ::1 is an IPv6 address/],
      ['a pool outside the CIDR', () => layout('10.0.0.0/24', '', [{ start: '10.0.0.10', end: '10.0.1.5' }]), /allocation_pools\[0\]: 10.0.0.10-10.0.1.5 is not inside the usable addresses of 10.0.0.0\/24 \(10.0.0.1-10.0.0.254\)/],
      ['a pool holding the broadcast address', () => layout('10.0.0.0/24', '', [{ start: '10.0.0.10', end: '10.0.0.255' }]), /allocation_pools\[0\]: .* not inside the usable/],
      ['a pool holding the network address', () => layout('10.0.0.0/24', '10.0.0.254', [{ start: '10.0.0.0', end: '10.0.0.9' }]), /allocation_pools\[0\]: .* not inside the usable/],
      ['a pool with start after end', () => layout('10.0.0.0/24', '', [{ start: '10.0.0.20', end: '10.0.0.10' }]), /allocation_pools\[0\]: start 10.0.0.20 is after end 10.0.0.10/],
      ['overlapping pools', () => layout('10.0.0.0/24', '', [{ start: '10.0.0.10', end: '10.0.0.20' }, { start: '10.0.0.20', end: '10.0.0.30' }]), /allocation_pools\[1\]: 10.0.0.20-10.0.0.30 overlaps allocation_pools\[0\]/],
      ['a gateway inside a pool', () => layout('10.0.0.0/24', '10.0.0.15', [{ start: '10.0.0.10', end: '10.0.0.20' }]), /gateway_ip: 10.0.0.15 is inside allocation_pools\[0\]/],
      ['the default gateway inside a pool', () => layout('10.0.0.0/24', '', [{ start: '10.0.0.1', end: '10.0.0.20' }]), /gateway_ip: 10.0.0.1 is inside allocation_pools\[0\]/],
      ['a bad pool address', () => layout('10.0.0.0/24', '', [{ start: 'x', end: '10.0.0.20' }]), /allocation_pools\[0\].start: "x" is not an IPv4 or IPv6/],
    ] as const)
      it(`refuses ${what}`, () => throwsWith(run, InvalidArgument, message));
  });

  describe('firstFree', () => {
    it('gives the lowest free address across pools, skipping what is taken', () => {
      const l = layout('10.0.0.0/24', '', [{ start: '10.0.0.100', end: '10.0.0.101' }, { start: '10.0.0.10', end: '10.0.0.11' }]);
      assert.equal(firstFree(l.pools, takenOf([])), v4('10.0.0.10'));
      assert.equal(firstFree(l.pools, takenOf([v4('10.0.0.10')])), v4('10.0.0.11'));
      assert.equal(firstFree(l.pools, takenOf([v4('10.0.0.10'), v4('10.0.0.11')])), v4('10.0.0.100'));
      assert.equal(firstFree(l.pools, takenOf([v4('10.0.0.10'), v4('10.0.0.11'), v4('10.0.0.100'), v4('10.0.0.101')])), undefined);
      assert.equal(firstFree(l.pools, takenOf([v4('10.0.0.11')])), v4('10.0.0.10'));
    });
    it('fills a /16 and finds the one released address', () => {
      const l = layout('10.1.0.0/16');
      let taken = SortedMap.empty<bigint, true>();
      for (;;) {
        const v = firstFree(l.pools, taken);
        if (v === undefined) break;
        taken = taken.set(v, true);
      }
      assert.equal(taken.size, 65533); // 65536 - network - broadcast - gateway
      taken = taken.delete(v4('10.1.200.7'));
      assert.equal(firstFree(l.pools, taken), v4('10.1.200.7'));
    });
    it('allocates in an IPv6 /64 near its end and at its start', () => {
      const l = layout('2001:db8::/64');
      const lastTwo = [v6('2001:db8::ffff:ffff:ffff:fffe'), v6('2001:db8::ffff:ffff:ffff:ffff')];
      const tail = { start: lastTwo[0], end: lastTwo[1] };
      assert.equal(firstFree([tail], takenOf([lastTwo[0]])), lastTwo[1]);
      assert.equal(firstFree([tail], takenOf(lastTwo)), undefined);
      let taken = takenOf([]);
      for (let i = 0; i < 5000; i++) taken = taken.set(firstFree(l.pools, taken)!, true);
      assert.equal(firstFree(l.pools, taken), v6('2001:db8::2') + 5000n);
    });
  });

  describe('checkRequested', () => {
    const l = layout('10.0.0.0/24', '', [{ start: '10.0.0.10', end: '10.0.0.20' }]);
    const o = { field: 'ip_address', subnet: 'subnet s-1 (10.0.0.0/24)', allowGateway: false };
    const taken = takenOf([v4('10.0.0.12')]);
    it('honours a free address inside or outside the pools', () => {
      assert.equal(checkRequested(l, taken, '10.0.0.11', o), v4('10.0.0.11'));
      assert.equal(checkRequested(l, taken, '10.0.0.200', o), v4('10.0.0.200'));
      assert.ok(!inPools(l.pools, v4('10.0.0.200')));
    });
    it('gives the gateway only to a router interface', () => {
      throwsWith(() => checkRequested(l, taken, '10.0.0.1', o), AlreadyExists, /ip_address: 10.0.0.1 is the gateway of subnet s-1/);
      assert.equal(checkRequested(l, taken, '10.0.0.1', { ...o, allowGateway: true }), v4('10.0.0.1'));
    });
    it('is ALREADY_EXISTS for a taken address', () =>
      throwsWith(() => checkRequested(l, taken, '10.0.0.12', o), AlreadyExists, /ip_address: 10.0.0.12 is already allocated in subnet s-1/));
    it('is INVALID_ARGUMENT outside the subnet, for special addresses and the wrong family', () => {
      throwsWith(() => checkRequested(l, taken, '10.0.1.5', o), InvalidArgument, /ip_address: 10.0.1.5 is outside subnet s-1/);
      throwsWith(() => checkRequested(l, taken, '10.0.0.0', o), InvalidArgument, /network address .* never allocated/);
      throwsWith(() => checkRequested(l, taken, '10.0.0.255', o), InvalidArgument, /broadcast address/);
      throwsWith(() => checkRequested(l, taken, '2001:db8::5', o), InvalidArgument, /IPv6 address; IPv4 is needed/);
      throwsWith(() => checkRequested(layout('2001:db8::/64'), taken, '2001:db8::', o), InvalidArgument, /subnet-router anycast/);
    });
  });

  describe('mac', () => {
    it('accepts locally administered unicast, canonicalised', () => assert.equal(parseMac('mac_address', '02-AB-cd-00-00-01'), '02:ab:cd:00:00:01'));
    it('refuses universally administered, multicast and malformed MACs', () => {
      throwsWith(() => parseMac('mac_address', '00:11:22:33:44:55'), InvalidArgument, /mac_address: 00:11:22:33:44:55 is not locally administered/);
      throwsWith(() => parseMac('mac_address', '03:11:22:33:44:55'), InvalidArgument, /multicast/);
      throwsWith(() => parseMac('mac_address', '02:11:22:33:44'), InvalidArgument, /is not a MAC address/);
      throwsWith(() => parseMac('mac_address', '02:11-22:33:44:55'), InvalidArgument, /is not a MAC address/);
    });
    it('makes a valid MAC from any random bytes', () => {
      assert.equal(macFromBytes([0xff, 1, 2, 3, 4, 5]), 'fe:01:02:03:04:05');
      assert.equal(macFromBytes([0, 0, 0, 0, 0, 0]), '02:00:00:00:00:00');
      assert.equal(parseMac('m', macFromBytes([0x01, 0xaa, 0xbb, 0xcc, 0xdd, 0xee])), '02:aa:bb:cc:dd:ee');
    });
  });
});
