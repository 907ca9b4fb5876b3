import { rmSync } from 'node:fs';
import path from 'node:path';
import type { Agent } from '../../../src/agent/agent';
import type { AgentConfig } from '../../../src/agent/config';
import { allDirs, readCgroupLayout } from '../../../src/agent/drivers/oci/cgroups';
import { InstanceState } from '../../../src/gen/hypervisor/v1/common';
import { ComputeServiceClient, ListInstancesRequest } from '../../../src/gen/hypervisor/v1/compute';
import { InstanceWatch } from '../../support/compute';
import { call, TestControlPlane, until } from '../../support/control-plane';
import { startContainerAgent } from './agent';
import { existing, mountsUnder, processesWith } from './host-checks';
import { LocalRegistry, runToken } from './registry';
import { buildTestImage, type TestImage } from './test-image';
import { removeRunCgroups } from '../../support/leftovers';

/**
 * What every end-to-end container test stands on: the busybox test image in a
 * local registry (as `<token>/busybox:1`), a control plane, one agent with the
 * oci driver (cgroups under the run's token), a client and a watch of every
 * instance. stop() deletes every instance and removes all of it.
 */
export class ContainerLab {
  readonly token = runToken();
  readonly registry = new LocalRegistry();
  readonly t: TestControlPlane;
  image!: TestImage;
  agent!: Agent;
  c!: ComputeServiceClient;
  watch!: InstanceWatch;
  /** The test image's reference. */
  ref = '';

  constructor(private readonly opts: { agent?: Partial<AgentConfig>; layered?: boolean } = {}) {
    // Network mode: the agent joins with a token and acts only as its node (issue 27).
    this.t = new TestControlPlane({}, { network: true });
  }

  async start(): Promise<this> {
    this.image = buildTestImage();
    await this.registry.start();
    this.registry.push(this.image.layout, this.image.tag, `${this.token}/busybox`, '1');
    if (this.opts.layered) this.registry.push(this.image.layout, 'layered', `${this.token}/busybox`, 'layered');
    this.ref = `oci://${this.registry.address}/${this.token}/busybox:1`;
    await this.t.start();
    // Containers are small: room for more of them than this machine has cores.
    this.agent = await startContainerAgent(this.t, this.token, { capacity: { cpuCores: 16 }, ...this.opts.agent });
    this.c = this.t.client(ComputeServiceClient);
    this.watch = new InstanceWatch(this.c);
    return this;
  }

  /** The instance's dir on the agent: the bundle and the shim's files. */
  instanceDir(id: string): string {
    return path.join(this.agent.cfg.stateDir, 'oci', 'instances', id);
  }

  running(id: string, timeoutMs = 60_000) {
    return this.watch.state(id, InstanceState.INSTANCE_STATE_RUNNING, timeoutMs);
  }

  /** What a deleted container must not leave: processes, mounts, cgroups, its dir. */
  leftovers(id: string) {
    return {
      processes: processesWith(id),
      mounts: mountsUnder(this.instanceDir(id)),
      cgroups: existing(allDirs(readCgroupLayout(), `/${this.token}/${id}`)),
      dir: existing([this.instanceDir(id)]),
    };
  }

  async stop(): Promise<void> {
    this.watch?.close();
    // Whatever a failed test left running goes with the instances.
    if (this.c) {
      const c = this.c;
      const listed = () => call(c, c.listInstances, ListInstancesRequest.fromPartial({ pageSize: 100 })).catch(() => ({ instances: [] }));
      const list = await listed();
      for (const i of list.instances) await call(c, c.deleteInstance, { instanceId: i.id, force: true }).catch(() => undefined);
      // A delete answers once recorded; the agent is stopped only once it has done them (a stop mid-delete leaves the rootfs mounted).
      if (list.instances.length) await until('the instances deleted', async () => (await listed()).instances.length === 0, 60_000);
    }
    await this.agent?.stop();
    await this.t.stop();
    await this.registry.stop();
    this.image?.remove();
    removeRunCgroups(this.token);
    if (this.agent) rmSync(this.agent.cfg.stateDir, { recursive: true, force: true });
  }
}

export const NOTHING_LEFT = { processes: [], mounts: [], cgroups: [], dir: [] };
