import type { Agent } from '../../src/agent/agent';
import { ComputeServiceClient } from '../../src/gen/hypervisor/v1/compute';
import { removeStateDir, startAgent, type TestAgentOptions } from './agent';
import { InstanceWatch } from './compute';
import { TestControlPlane } from './control-plane';
import { ImageServer, testGuestDir } from './image-server';

/**
 * What the compute, hvctl and web console suites start from: a control plane,
 * the test guest's image server, one agent in this process and a watch on
 * every instance. stop() ends it all, and removes the agent's state dir with
 * whatever still runs under it (a QEMU a failed test left).
 *
 *   const lab = new OneNodeLab();
 *   before(async () => void (await lab.start({ hostname: 'qemu-host' })));
 *   after(() => lab.stop());
 */
export class OneNodeLab {
  readonly t: TestControlPlane;
  images!: ImageServer;
  agent!: Agent;
  c!: ComputeServiceClient;
  watch!: InstanceWatch;

  constructor(...cp: ConstructorParameters<typeof TestControlPlane>) {
    this.t = new TestControlPlane(...cp);
  }

  async start(agent: TestAgentOptions = {}): Promise<this> {
    this.images = await new ImageServer(testGuestDir()).start();
    await this.t.start();
    this.agent = await startAgent(this.t, agent);
    this.c = this.t.client(ComputeServiceClient);
    this.watch = new InstanceWatch(this.c);
    return this;
  }

  async stop(): Promise<void> {
    this.watch?.close();
    await this.agent?.stop();
    await this.t.stop();
    await this.images?.stop();
    if (this.agent) removeStateDir(this.agent);
  }
}
