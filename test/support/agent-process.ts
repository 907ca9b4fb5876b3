import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { freePort } from '../../src/nats/embedded-nats-server';

const MAIN = path.join(__dirname, '..', '..', 'src', 'agent', 'main.js');

/** The real hypervisor-agent binary as a child process, so a test can kill -9 it and start it again on the same state dir. */
export class AgentProcess {
  child?: ChildProcess;
  port = 0;
  log = '';

  constructor(
    private readonly server: string,
    private readonly natsUrl: string,
    readonly stateDir: string,
    readonly hostname: string,
    private readonly extraArgs: string[] = [],
    /** wrap: runs the agent in a network namespace (NetnsHost.wrap); env: more environment. */
    private readonly opts: { wrap?: (argv: string[]) => string[]; env?: Record<string, string> } = {},
  ) {}

  async start(): Promise<this> {
    this.port ||= await freePort();
    const argv = [
        process.execPath,
        MAIN,
        '--server', this.server,
        '--nats-url', this.natsUrl,
        '--state-dir', this.stateDir,
        '--hostname', this.hostname,
        '--advertise-ip', '127.0.0.1',
        '--listen-host', '127.0.0.1',
        '--port', String(this.port),
        '--accel', 'tcg',
        '--log-level', process.env.HV_TEST_LOG && process.env.HV_TEST_LOG !== 'silent' ? process.env.HV_TEST_LOG : 'warn',
        ...this.extraArgs,
    ];
    const [cmd, ...args] = this.opts.wrap ? this.opts.wrap(argv) : argv;
    this.child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HV_AGENT_RECONCILE_MS: '500', ...this.opts.env } });
    this.child.stdout!.on('data', (d) => (this.log += d));
    this.child.stderr!.on('data', (d) => (this.log += d));
    return this;
  }

  kill9(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGKILL');
    return exited;
  }

  async stop(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  }
}
