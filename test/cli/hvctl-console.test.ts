import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Agent } from '../../src/agent/agent';
import type { HollowDriver } from '../../src/agent/drivers/hollow/hollow-driver';
import type { LoadedDrivers } from '../../src/agent/drivers/load';
import { InstanceState, InstanceType } from '../../src/gen/hypervisor/v1/common';
import { ComputeServiceClient } from '../../src/gen/hypervisor/v1/compute';
import { createRequest, InstanceWatch } from '../support/compute';
import { call } from '../support/control-plane';
import { HVCTL, isolatedEnv } from '../support/hvctl';
import { ImageServer } from '../support/image-server';
import { TmuxTerminal } from '../support/tmux';
import { OneNodeLab } from '../support/one-node-lab';

describe('hvctl instance console in a pseudo-terminal (tmux), against a hollow agent', function () {
  this.timeout(60_000);
  const token = randomBytes(2).toString('hex');
  const lab = new OneNodeLab({ leaseTtlSeconds: 3600 });
  const { t } = lab;
  let agent: Agent;
  let images: ImageServer;
  let compute: ComputeServiceClient;
  let watch: InstanceWatch;
  let term: TmuxTerminal | undefined;

  before(async () => void ({ images, agent, c: compute, watch } = await lab.start({ driver: 'hollow', hostname: `hvt${token}-console`, capacity: { cpuCores: 16, memoryBytes: 2 ** 34, diskBytes: 2 ** 36 } })));
  afterEach(() => {
    term?.stop();
    term = undefined;
  });
  after(() => lab.stop());

  const running = async (name: string) => {
    const i = await call(compute, compute.createInstance, createRequest(name, InstanceType.INSTANCE_TYPE_VM, { kernel: images.url('vmlinuz') }));
    await watch.state(i.id, InstanceState.INSTANCE_STATE_RUNNING);
    return i.id;
  };
  /** hvctl instance console <ref> in a fresh 80×24 terminal, attached. */
  const attach = async (ref: string) => {
    term = new TmuxTerminal(token);
    const env = isolatedEnv();
    term.start([process.execPath, HVCTL, '--server', t.address, 'instance', 'console', ref], { HVCTL_CONFIG: env.HVCTL_CONFIG! });
    await term.waitFor(/attached to instance .* \(Ctrl-\] then q leaves\)/);
    await term.waitFor(/HV-GUEST-READY/);
    return term;
  };

  it('types a command and shows its answer; a resize reaches the console; Ctrl-] q leaves with exit 0', async () => {
    await running(`con-${token}`);
    const tt = await attach(`con-${token}`);
    tt.type('echo hv-$((6*7))');
    tt.keys('Enter');
    await tt.waitFor(/^hv-42\s*$/m);
    tt.type('stty size');
    tt.keys('Enter');
    await tt.waitFor(/^24 80\s*$/m);
    // The window changes: hvctl gets SIGWINCH and sends the new size.
    tt.resize(100, 30);
    tt.type('stty size');
    tt.keys('Enter');
    await tt.waitFor(/^30 100\s*$/m);
    // Ctrl-] then anything but q is passed on; Ctrl-] q leaves.
    tt.keys('C-]');
    tt.type('q');
    assert.equal(await tt.waitForExit(), 0);
    assert.match(tt.screen(), /detached from instance con-/);
  });

  it('says so and exits 22 when the instance is deleted while attached', async () => {
    const id = await running(`del-${token}`);
    const tt = await attach(id);
    await call(compute, compute.deleteInstance, { instanceId: id, force: true });
    assert.equal(await tt.waitForExit(), 22, tt.screen());
    assert.match(tt.screen(), new RegExp(`error: instance del-${token} was deleted`));
  });

  it('says so and exits 20 when the instance is stopped while attached', async () => {
    const id = await running(`stop-${token}`);
    const tt = await attach(`stop-${token}`);
    await call(compute, compute.stopInstance, { instanceId: id, force: true, timeoutSeconds: 0 });
    assert.equal(await tt.waitForExit(), 20, tt.screen());
    assert.match(tt.screen(), new RegExp(`error: instance stop-${token} is STOPPED`));
  });

  it('says so and exits 21 when the instance fails while attached', async () => {
    const id = await running(`fail-${token}`);
    const tt = await attach(`fail-${token}`);
    const hollow = (agent as unknown as { loaded: LoadedDrivers }).loaded.drivers.get('hollow') as HollowDriver;
    hollow.crash(id, 'the guest went away');
    assert.equal(await tt.waitForExit(), 21, tt.screen());
    assert.match(tt.screen(), new RegExp(`error: instance fail-${token} FAILED: `));
  });

  it('a console on an instance that is not running is FAILED_PRECONDITION (exit 9)', async () => {
    const id = await running(`off-${token}`);
    await call(compute, compute.stopInstance, { instanceId: id, force: true, timeoutSeconds: 0 });
    await watch.state(id, InstanceState.INSTANCE_STATE_STOPPED);
    term = new TmuxTerminal(token);
    term.start([process.execPath, HVCTL, '--server', t.address, 'instance', 'console', id], { HVCTL_CONFIG: isolatedEnv().HVCTL_CONFIG! });
    assert.equal(await term.waitForExit(), 9, term.screen());
    assert.match(term.screen(), /error: FAILED_PRECONDITION: /);
  });
});
