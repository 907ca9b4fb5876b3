import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NetnsHosts } from '../support/netns-hosts';
import { NpmStart } from '../support/npm-start';
import { quickStartBlocks, ReadmeShell } from '../support/readme-blocks';
import { until } from '../support/until';

/**
 * Issue 19: the README's quick start as a new user runs it. The commands are
 * the README's own (its shell blocks marked `<!-- quick-start -->`), run in
 * order as written on a namespace host (its own loopback: the real default
 * ports) with a fresh data dir: the first block is the `npm start` of "Start
 * it", the others are typed into one bash, as into a second terminal. A README
 * and a code base that drift apart fail here. Between blocks the test checks
 * what the README says the user sees. The upstream network of the one-host
 * networking example is a namespace the README's own commands make (`upstream`,
 * a veth `upstream0`): never the machine's uplink.
 */
describe('the README quick start, as written (issue 19)', function () {
  this.timeout(900_000);
  let lab: NetnsHosts;
  let run: NpmStart | undefined;
  let shell: ReadmeShell | undefined;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'hv-quick-start-'));
  const blocks = quickStartBlocks();
  const dropUpstream = () => execFileSync('sh', ['-c', 'ip netns pids upstream 2>/dev/null | xargs -r kill -9; ip netns del upstream 2>/dev/null || true']);

  before(async () => {
    dropUpstream();
    lab = await NetnsHosts.create(1);
  });
  after(async () => {
    shell?.close();
    await run?.cleanup();
    dropUpstream();
    await lab?.cleanup();
    rmSync(tmp, { recursive: true, force: true });
  });

  /** hvctl inside the namespace host, for the checks between blocks. */
  const hvctl = (...args: string[]) => lab.hosts[0].run(process.execPath, [path.join(__dirname, '..', '..', 'src', 'cli', 'hvctl.js'), ...args]);
  const json = async <T>(...args: string[]) => JSON.parse(await hvctl(...args, '-o', 'json')) as T;

  it('finds the README\'s quick-start blocks: npm start first, then the sections in order', () => {
    assert.ok(blocks.length >= 6, `${blocks.length} blocks`);
    assert.match(blocks[0], /^npm start -- /);
  });

  it('runs every block in order, with no restart, and each section does what the README says', async () => {
    const host = lab.hosts[0];
    // Start it: the line as written (npm start and its flags), in its own terminal.
    const args = blocks[0].trim().split(/\s+/).slice(2);
    run = NpmStart.spawn(host, args);
    await run.waitFor(/hypervisor is ready/, 180_000);

    // The second terminal. `hostname` is this host's name, which its agent registered under.
    shell = new ReadmeShell(host, `hostname() { echo ${host.name}; }`, { HVCTL_CONFIG: path.join(tmp, 'hvctl.yaml') });

    // Use it: the node by its name.
    const use = await shell.run(blocks[1]);
    assert.match(use, new RegExp(`hostname: ${host.name}`), 'hvctl node get <host name> found the node');

    // Networking: the model, then the router ERROR with the reason, since upstream0 does not exist yet.
    const net = await shell.run(blocks[2]);
    const port = (await json<{ name: string; ipAddress: string }[]>('port', 'list')).find((p) => p.name === 'web-1')!;
    assert.notEqual(port.ipAddress, '10.0.0.2', 'the DNS server address is not handed out');
    const edge = async () => (await json<{ name: string; status: string }[]>('router', 'list')).find((r) => r.name === 'edge')!;
    await until('the router ERROR (upstream0 is missing)', async () => (await edge()).status === 'ERROR', 60_000);
    const why = (await json<{ type: string; data: { reason?: string } }[]>('events', '--kind', 'router', '--id', 'edge', '--type', 'RouterStatusReported').catch(async () =>
      (await hvctl('events', '--kind', 'router', '--id', 'edge', '--type', 'RouterStatusReported', '-o', 'json')).trim().split('\n').map((l) => JSON.parse(l)),
    )) as { data: { reason?: string } }[];
    assert.match(JSON.stringify(why), /physical network \\"default\\".*(upstream0|does not map)|Cannot find device \\"upstream0\\"/, JSON.stringify(why));
    void net;
    // The floating IP through it is not ACTIVE either.
    const fipOf = async () => (await json<{ floatingIp: string; status: string }[]>('fip', 'list')).find((f) => f.floatingIp === '203.0.113.3')!;
    await until('the floating IP through the router ERROR too', async () => (await fipOf()).status === 'ERROR', 60_000);
    const table = await hvctl('router', 'get', 'edge');
    assert.match(table.split('\n')[0], /STATUS.*REASON/, table);
    assert.match(table, /ERROR.*upstream0/, 'the table says why');

    // The upstream network on one host, as the README makes it: the router turns ACTIVE and answers there.
    await shell.run(blocks[3]);
    await until('the router ACTIVE once upstream0 exists', async () => (await edge()).status === 'ACTIVE', 120_000);
    await until('its floating IP ACTIVE again', async () => (await fipOf()).status === 'ACTIVE', 60_000);
    await until('the upstream reaches the router\'s gateway address', () =>
      host.run('ip', ['netns', 'exec', 'upstream', 'ping', '-c', '1', '-W', '1', '203.0.113.2']).then(() => true, () => false), 60_000);

    // Compute: the test guest, two VMs and a microVM behind the router whose floating IP answers from upstream.
    const compute = await shell.run(blocks[4], 900_000);
    assert.match(compute, /RUNNING/);
    const fips = await json<{ floatingIp: string; portId: string; status: string }[]>('fip', 'list');
    const vmPort = (await json<{ id: string; instanceId: string }[]>('port', 'list', '--instance', 'web-vm'))[0];
    assert.equal(fips.find((f) => f.portId === vmPort.id)?.floatingIp, '203.0.113.4', 'the address the README pings is web-vm\'s');
    assert.match(compute, /1 packets transmitted, 1 received/, 'the floating IP answered from upstream');

    // Item 7 through the API: once DisassociateFloatingIP answered and the router's host converged, a ping
    // that never stopped (one ICMP flow, tracked by the router) gets no more answers.
    const out = path.join(tmp, 'ping-fip');
    const pinger = spawn('ip', ['netns', 'exec', 'upstream', 'ping', '-O', '-n', '-i', '0.2', '203.0.113.4'], { stdio: ['ignore', openSync(out, 'w'), 'ignore'] });
    try {
      const replies = () => [...readFileSync(out, 'utf8').matchAll(/icmp_seq=(\d+) ttl=/g)].map((m) => Number(m[1]));
      const unanswered = () => [...readFileSync(out, 'utf8').matchAll(/no answer yet for icmp_seq=(\d+)/g)].map((m) => Number(m[1]));
      await until('web-vm answers the ping on its floating IP', () => replies().length >= 3, 30_000);
      await hvctl('fip', 'disassociate', '203.0.113.4');
      // With the flow's state kept, the replies would go on and this would never hold.
      await until('ten requests in a row unanswered since the disassociation', () => unanswered().filter((q) => q > Math.max(...replies())).length >= 10, 60_000);
    } finally {
      pinger.kill();
    }

    // Audit and integrations: names for ids, and a point past the log's head is OUT_OF_RANGE.
    const audit = await shell.run(blocks[5]);
    assert.match(audit, /NodeRegistered/);
    assert.match(audit, /OUT_OF_RANGE[\s\S]*exit 11/);
    assert.match(audit, /^ok: /m, 'hvctl verify found no difference');

    // Nothing of the start keeps running after a stop (the Ctrl-C of Start it: SIGINT to its group).
    shell.close();
    process.kill(-run.pgid, 'SIGINT');
    await until('npm start ended', () => run!.child.exitCode !== null || run!.child.signalCode !== null, 60_000);
    // Its instances (QEMU) keep running by design, as they outlive an agent; the test's cleanup ends them.
    await until('no server, nats-server or agent left in the host', () => !run!.processes().some((p) => /^(npm start|node dist\/src\/main\.js|nats-server )/.test(p.cmdline)), 60_000);
  });
});
