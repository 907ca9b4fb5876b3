import assert from 'node:assert/strict';
import { renderRuleset } from './nft';

describe("a port's anti-spoofing (the bridge chain its frames pass first)", () => {
  const chain = renderRuleset([{ device: 'tap-1', mac: '52:54:00:12:34:56', ip: '10.0.0.5', groups: [] }], new Map())
    .split('chain s1 {')[1]
    .split('\n  }')[0];

  it('drops frames from any other MAC, ARP for any other address, and IPv4 from any other source', () => {
    assert.match(chain, /ether saddr != 52:54:00:12:34:56 drop/);
    assert.match(chain, /arp saddr ip != \{ 10\.0\.0\.5, 0\.0\.0\.0 \} drop/);
    assert.match(chain, /ip saddr != 10\.0\.0\.5 drop/);
  });

  it("lets the port's own RARP through (QEMU's announce-self after a live move) and drops every other kind", () => {
    assert.match(chain, /ether type != \{ ip, arp, 0x8035 \} drop/);
  });
});
