import path from 'node:path';
import { freePort } from '../../src/nats/embedded-nats-server';
import { ChildBinary } from './child';

const MAIN = path.join(__dirname, '..', '..', 'src', 'agent', 'main.js');

/** The real hypervisor-agent binary as a child process, so a test can kill -9 it and start it again on the same state dir. */
export class AgentProcess extends ChildBinary {
  port = 0;

  constructor(
    private readonly server: string,
    private readonly natsUrl: string,
    readonly stateDir: string,
    readonly hostname: string,
    private readonly extraArgs: string[] = [],
    /** wrap: runs the agent in a network namespace (e.g. `ip netns exec <ns> …`); env: more environment (e.g. HV_QEMU_BINARY). */
    private readonly opts: { wrap?: (argv: string[]) => string[]; env?: Record<string, string> } = {},
  ) {
    super(MAIN);
  }

  async start(): Promise<this> {
    this.port ||= await freePort();
    const logLevel = process.env.HV_TEST_LOG && process.env.HV_TEST_LOG !== 'silent' ? process.env.HV_TEST_LOG : 'warn';
    this.spawn(
      [
        '--server', this.server,
        '--nats-url', this.natsUrl,
        '--state-dir', this.stateDir,
        '--hostname', this.hostname,
        '--advertise-ip', '127.0.0.1',
        '--listen-host', '127.0.0.1',
        '--port', String(this.port),
        '--accel', 'tcg',
        // Test image servers listen on loopback, which the image fetcher refuses unless allowed.
        '--image-allow-cidr', '127.0.0.0/8',
        '--log-level', logLevel,
        ...this.extraArgs,
      ],
      { HV_AGENT_RECONCILE_MS: '500', ...this.opts.env },
      this.opts.wrap,
    );
    return this;
  }
}
