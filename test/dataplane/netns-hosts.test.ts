import assert from 'node:assert/strict';
import { HostRunner } from '../../src/sdn/run';
import { NetnsHosts } from '../support/netns-hosts';

const root = new HostRunner();
const namespaces = async () => (await root.ipJson<{ name: string }>(['netns', 'list'])).map((n) => n.name);

describe('test/support/netns-hosts: hosts as namespaces on an underlay', function () {
  this.timeout(30_000);
  let lab: NetnsHosts | undefined;
  after(async () => lab?.cleanup());

  it('hosts reach each other and the root namespace over the underlay, and cleanup removes every namespace and link of the run', async () => {
    lab = await NetnsHosts.create(2);
    const [a, b] = lab.hosts;
    assert.match(a.name, new RegExp(`^${lab.token}-`));
    await a.run('ping', ['-c1', '-W2', b.ip]);
    await b.run('ping', ['-c1', '-W2', lab.rootIp]);
    // A third host joins later (issue 12's second host) on the same underlay.
    const c = await lab.addHost();
    await c.run('ping', ['-c1', '-W2', a.ip]);
    // A namespace an agent made for the run (its name holds the token) goes too, with what runs in it.
    const extra = `hv-${lab.token}-h1-dhcp-x`;
    await root.ip(['netns', 'add', extra]);
    assert.ok((await namespaces()).includes(extra));
    await lab.cleanup();
    const left = (await namespaces()).filter((n) => n.includes(lab!.token));
    assert.deepEqual(left, []);
    const links = (await root.ipJson<{ ifname: string }>(['link', 'show'])).filter((l) => l.ifname.includes(lab!.token));
    assert.deepEqual(links, []);
  });
});
