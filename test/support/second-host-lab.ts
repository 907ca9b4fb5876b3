import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ip = async (...args: string[]) => (await run('ip', args)).stdout;

export interface LabHost {
  /** Its network namespace; holds the run's token, so it is also a good agent hostname. */
  readonly name: string;
  readonly ip: string;
  /** argv that runs `argv` inside the host's namespace (for spawn). */
  wrap(argv: readonly string[]): string[];
}

/**
 * Other "hosts" for the second-host test (issue 12), as network namespaces on a bridge in
 * a switch namespace; the root namespace, where the server runs, is on the bridge over a
 * veth at `rootIp`. Addresses are a 198.19.<n>.0/24 inside 198.19.0.0/18 that no route of
 * the machine uses; every name holds the run's token (`hvt<4 hex>`); `cleanup()` kills
 * what runs in the run's namespaces and deletes only what this run made.
 * (A stand-in for the data-plane helper's test/support/netns-hosts.ts, which uses
 * 198.18.0.0/15, another helper's range.)
 */
export class SecondHostLab {
  readonly hosts: LabHost[] = [];
  private readonly made: string[] = [];

  private constructor(
    readonly token: string,
    private readonly octet: number,
  ) {}

  get rootIp(): string {
    return `198.19.${this.octet}.1`;
  }

  static async create(count: number): Promise<SecondHostLab> {
    const lab = new SecondHostLab(`hvt${randomBytes(2).toString('hex')}`, await freeOctet());
    try {
      const sw = `${lab.token}-sw`;
      await ip('netns', 'add', sw);
      lab.made.push(sw);
      await ip('-n', sw, 'link', 'add', 'br0', 'type', 'bridge');
      await ip('-n', sw, 'link', 'set', 'br0', 'up');
      await ip('link', 'add', `${lab.token}r`, 'type', 'veth', 'peer', 'name', 'root', 'netns', sw);
      await ip('-n', sw, 'link', 'set', 'root', 'master', 'br0', 'up');
      await ip('addr', 'add', `${lab.rootIp}/24`, 'dev', `${lab.token}r`);
      await ip('link', 'set', `${lab.token}r`, 'up');
      for (let i = 1; i <= count; i++) {
        const name = `${lab.token}-h${i}`;
        const addr = `198.19.${lab.octet}.${10 + i}`;
        await ip('netns', 'add', name);
        lab.made.push(name);
        await ip('-n', sw, 'link', 'add', `h${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', name);
        await ip('-n', sw, 'link', 'set', `h${i}`, 'master', 'br0', 'up');
        await ip('-n', name, 'link', 'set', 'lo', 'up');
        await ip('-n', name, 'addr', 'add', `${addr}/24`, 'dev', 'eth0');
        await ip('-n', name, 'link', 'set', 'eth0', 'up');
        lab.hosts.push({ name, ip: addr, wrap: (argv) => ['ip', 'netns', 'exec', name, ...argv] });
      }
      return lab;
    } catch (e) {
      await lab.cleanup();
      throw e;
    }
  }

  /** Kills what runs in this run's namespaces, then deletes them and the root veth. Safe to call twice. */
  async cleanup(): Promise<void> {
    for (let round = 0; round < 20; round++) {
      const pids: number[] = [];
      for (const ns of this.made) pids.push(...(await ip('netns', 'pids', ns).catch(() => '')).split(/\s+/).filter(Boolean).map(Number));
      if (pids.length === 0) break;
      for (const p of pids) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // gone already
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const ns of this.made) await ip('netns', 'del', ns).catch(() => undefined);
    await ip('link', 'del', `${this.token}r`).catch(() => undefined);
  }
}

/** A 198.19.<n>.0/24 (n in 1..63, inside 198.19.0.0/18) that no route of the machine is on. */
const freeOctet = async (): Promise<number> => {
  const routes = JSON.parse(await ip('-json', 'route', 'show')) as { dst: string }[];
  const used = new Set(routes.map((r) => r.dst).filter((d) => d.startsWith('198.19.')).map((d) => Number(d.split('.')[2])));
  for (let tries = 0; tries < 200; tries++) {
    const n = 1 + Math.floor(Math.random() * 63);
    if (!used.has(n)) return n;
  }
  throw new Error('no free 198.19.<n>.0/24 for a test underlay');
};
