import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Agent } from '../../../src/agent/agent';
import { ClusterServiceClient } from '../../../src/gen/hypervisor/v1/cluster';
import { ComputeServiceClient } from '../../../src/gen/hypervisor/v1/compute';
import type { ServerConfig } from '../../../src/server/config';
import { removeStateDir, startAgent, type TestAgentOptions } from '../../support/agent';
import { InstanceWatch, MiB, type SpecInput } from '../../support/compute';
import { TestControlPlane } from '../../support/control-plane';
import { ImageServer, testGuestDir } from '../../support/image-server';

/** One agent's options beyond its state dir; a function of that dir for what must be there before it starts (a key file). */
export type LabAgent = TestAgentOptions | ((stateDir: string) => TestAgentOptions);

export interface TwoAgentLabOptions {
  /** The control plane's settings beyond the test defaults. */
  readonly server?: Partial<ServerConfig>;
  /** Network mode: the agents join with tokens, so each move's reports come from each end as its node (issue 27). */
  readonly network?: boolean;
  readonly a: LabAgent;
  readonly b: LabAgent;
}

/**
 * Two real agents in this process (QEMU under TCG unless told hollow) on one control plane
 * with a real nats-server, each on a state dir of its own, and the test guest served over
 * HTTP: the lab of the moves between nodes on this host (drain, drain-no-room, migrate-qemu,
 * migrate-volume). forSuite starts it before the suite's tests and removes everything after,
 * what the agents left running under their dirs too.
 */
export class TwoAgentLab {
  readonly t: TestControlPlane;
  images!: ImageServer;
  c!: ComputeServiceClient;
  cluster!: ClusterServiceClient;
  watch!: InstanceWatch;
  a!: Agent;
  b!: Agent;
  readonly dirA = mkdtempSync(path.join(os.tmpdir(), 'hv-agent-lab-a-'));
  readonly dirB = mkdtempSync(path.join(os.tmpdir(), 'hv-agent-lab-b-'));

  constructor(private readonly opts: TwoAgentLabOptions) {
    this.t = new TestControlPlane(opts.server ?? {}, { network: opts.network });
  }

  static forSuite(opts: TwoAgentLabOptions): TwoAgentLab {
    const lab = new TwoAgentLab(opts);
    before(() => lab.start());
    after(() => lab.stop());
    return lab;
  }

  async start(): Promise<void> {
    this.images = await new ImageServer(testGuestDir()).start();
    await this.t.start();
    const options = (x: LabAgent, dir: string) => ({ ...(typeof x === 'function' ? x(dir) : x), stateDir: dir });
    this.a = await startAgent(this.t, options(this.opts.a, this.dirA));
    this.b = await startAgent(this.t, options(this.opts.b, this.dirB));
    this.c = this.t.client(ComputeServiceClient);
    this.cluster = this.t.client(ClusterServiceClient);
    this.watch = new InstanceWatch(this.c);
  }

  /** The test guest's spec (its kernel and initramfs from the image server), 128 MiB unless `over` says otherwise: a VM or a microVM. */
  guest(over: SpecInput = {}): SpecInput {
    return { kernel: this.images.url('vmlinuz'), initrd: this.images.url('initramfs.cpio.gz'), memoryBytes: 128 * MiB, ...over };
  }

  async stop(): Promise<void> {
    this.watch?.close();
    for (const x of [this.a, this.b]) await x?.stop();
    await this.t.stop();
    await this.images?.stop();
    for (const x of [this.a, this.b]) if (x) removeStateDir(x);
    // An agent that never started leaves its (empty) dir.
    for (const d of [this.dirA, this.dirB]) rmSync(d, { recursive: true, force: true });
  }
}
