import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { readOptions } from '../../src/options/read';
import { agentOptions, serverOptions } from '../../src/options/table';

const DIR = path.join(__dirname, '..', '..', '..', 'examples', 'systemd');
const unit = (name: string) => readFileSync(path.join(DIR, name), 'utf8');
/** The unit's ExecStart argv after the script, with its Environment= variables put in. */
const execArgs = (text: string): string[] => {
  const env = Object.fromEntries([...text.matchAll(/^Environment=(\w+)=(.*)$/gm)].map((m) => [m[1], m[2]]));
  const line = /^ExecStart=(.*)$/m.exec(text)![1].replace(/\$\{(\w+)\}/g, (_, k: string) => env[k] ?? '');
  return line.split(/\s+/).slice(2);
};

describe('examples/systemd: the production way to run both binaries (issue 19, item 2)', () => {
  it('systemd-analyze verify finds nothing wrong with either unit', async () => {
    const r = await promisify(execFile)('systemd-analyze', ['verify', path.join(DIR, 'hypervisor-server.service'), path.join(DIR, 'hypervisor-agent.service')]).catch((e: { stderr: string }) => e);
    assert.equal(r.stderr.trim(), '');
  });

  it('their command lines are options the binaries take', () => {
    const server = readOptions(serverOptions, execArgs(unit('hypervisor-server.service')), {});
    assert.deepEqual([server.agent, server.natsListen, server.logFormat], [false, '0.0.0.0:4222', 'json']);
    const agent = readOptions(agentOptions, execArgs(unit('hypervisor-agent.service')), {});
    assert.deepEqual([agent.server, agent.natsUrl, agent.natsTokenFile], ['10.0.0.1:50051', 'nats://10.0.0.1:4222', '/etc/hypervisor/nats-token']);
  });

  it('the server alone gets the stop signal and ends its nats-server itself; the agent leaves its instances running', () => {
    assert.match(unit('hypervisor-server.service'), /^KillMode=mixed$/m);
    assert.match(unit('hypervisor-agent.service'), /^KillMode=process$/m);
  });
});
