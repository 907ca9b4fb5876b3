import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { HostRunner } from '../../src/sdn/run';
import { alive } from '../support/our-processes';
import { OWNERS_DIR } from '../support/lab-owners';
import { NetnsHosts } from '../support/netns-hosts';
import { until } from '../support/until';

const root = new HostRunner();
const support = path.join(__dirname, '..', 'support', 'netns-hosts.js');

// A test process that makes a lab with one host, starts a process in it (as an agent would be), prints
// its token and the pid, and waits to be killed: a CI timeout's SIGKILL, which runs no cleanup().
const LAB_THEN_WAIT = `
const { NetnsHosts } = require(${JSON.stringify(support)});
NetnsHosts.create(1).then((lab) => {
  const [cmd, ...args] = lab.hosts[0].wrap(['sleep', '600']);
  const child = require('node:child_process').spawn(cmd, args, { stdio: 'ignore', detached: true });
  console.log(JSON.stringify({ token: lab.token, pid: child.pid }));
  setInterval(() => {}, 1000);
});`;

describe('namespace labs of a killed test run', function () {
  this.timeout(60_000);

  it('are removed by the next lab made on the machine: namespaces, the root veth, what ran in them and the owner record', async () => {
    const child = spawn(process.execPath, ['-e', LAB_THEN_WAIT], { stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
        if (out.includes('\n')) resolve(out.split('\n')[0]);
      });
      child.once('exit', (code) => reject(new Error(`the lab's process exited (${code}) before making its lab`)));
    });
    const { token, pid } = JSON.parse(line) as { token: string; pid: number };
    const names = async () => (await root.ipJson<{ name: string }>(['netns', 'list'])).map((n) => n.name).filter((n) => n.includes(token));
    // Looked at while its owner runs: no lab removes it then.
    assert.deepEqual((await names()).sort(), [`${token}-h1`, `${token}-sw`]);
    assert.ok(alive(pid), 'what it started runs in it');
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;

    // The next lab made removes it: here, or another test file's lab made at the same moment, whose
    // removal may still be under way when this call finds nothing left to claim.
    await NetnsHosts.removeOrphans();
    await until('the namespaces gone', async () => (await names()).length === 0);
    await until('what ran in them gone', () => !alive(pid));
    await until('the root veth gone', async () => root.ip(['link', 'show', `${token}r`]).then(() => false, () => true));
    await until('the owner record gone', () => !existsSync(path.join(OWNERS_DIR, token)));
  });

  it("leave a live process's lab alone", async () => {
    const lab = await NetnsHosts.create(1);
    try {
      assert.equal((await NetnsHosts.removeOrphans()).includes(lab.token), false);
      assert.equal(await lab.hosts[0].run('ip', ['-br', 'addr', 'show', 'eth0']).then((o) => o.includes(lab.hosts[0].ip)), true);
    } finally {
      await lab.cleanup();
    }
  });
});
