import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { allDirs, readCgroupLayout } from '../../src/agent/drivers/oci/cgroups';
import { isAlive } from '../../src/shared/process';
import { parseOciRef } from '../../src/domain/oci-reference';
import { inspectManifest } from '../../src/images/oci/skopeo';
import { ClusterServiceClient, ListNodesRequest } from '../../src/gen/hypervisor/v1/cluster';
import { InstanceState, InstanceType } from '../../src/gen/hypervisor/v1/common';
import { ComputeServiceClient } from '../../src/gen/hypervisor/v1/compute';
import { AgentProcess } from '../support/agent-process';
import { ConsoleSession, createRequest, InstanceWatch } from '../support/compute';
import { call, TestControlPlane, until } from '../support/control-plane';
import { GatedProxy } from './support/gated-proxy';
import { existing, mountsUnder, processesWith } from './support/host-checks';
import { LocalRegistry, LOOPBACK_ALLOWED, runToken } from './support/registry';
import { buildTestImage, type TestImage } from './support/test-image';
import { removeRunCgroups } from '../support/leftovers';

const RUNNING = InstanceState.INSTANCE_STATE_RUNNING;
const CONTAINER = InstanceType.INSTANCE_TYPE_CONTAINER;

describe('containers and agent crashes: kill -9 the agent process while a container runs and while one is being created', function () {
  this.timeout(180_000);
  const token = runToken();
  const registry = new LocalRegistry();
  const t = new TestControlPlane({}, { network: true });
  // Made in before(), so loading the file creates nothing.
  let stateDir = '';
  let proxy: GatedProxy;
  let image: TestImage;
  let agent: AgentProcess;
  let c: ComputeServiceClient;
  let watch: InstanceWatch;
  const made: string[] = [];

  const containerPid = (id: string): number => Number(JSON.parse(readFileSync(path.join(stateDir, 'oci', 'instances', id, 'ready.json'), 'utf8')).pid);
  /** How often the instance entered RUNNING, as WatchInstance saw it. */
  const runningTransitions = (id: string): number => {
    let n = 0;
    let prev: InstanceState | undefined;
    for (const e of watch.events) {
      if (e.instance?.id !== id) continue;
      if (e.instance.state === RUNNING && prev !== RUNNING) n++;
      prev = e.instance.state;
    }
    return n;
  };
  const history = (id: string) =>
    watch.events
      .filter((e) => e.instance?.id === id)
      .map((e) => `${InstanceState[e.instance!.state]}(${e.instance!.stateReason})`)
      .join(' > ');
  // runc behind a wrapper that holds `runc run` (the shim's start of the container) while a gate file is missing: a slow runtime, to kill the agent inside a start.
  let gate = '';
  let blocked = '';
  let runcWrapper = '';
  const restartAgent = async () => {
    agent = await new AgentProcess(t.address, t.agentNatsUrl, stateDir, `crashy-${token}`, ['--driver', 'oci', '--oci-cgroup-parent', token, '--oci-runc-binary', runcWrapper, '--cpus', '16'], { env: await t.joinEnv() }).start();
  };

  before(async () => {
    stateDir = mkdtempSync(path.join(os.tmpdir(), `hv-agent-${token}-`));
    gate = path.join(stateDir, 'runc-gate');
    blocked = path.join(stateDir, 'runc-blocked');
    runcWrapper = path.join(stateDir, 'slow-runc');
    writeFileSync(
      runcWrapper,
      `#!/bin/sh\nfor a in "$@"; do if [ "$a" = run ]; then touch '${blocked}'; while [ ! -f '${gate}' ]; do sleep 0.05; done; fi; done\nexec runc "$@"\n`,
      { mode: 0o755 },
    );
    writeFileSync(gate, '');
    image = buildTestImage();
    await registry.start();
    registry.push(image.layout, image.tag, `${token}/busybox`, '1');
    // Another image (its own config blob), so the mid-pull test finds nothing in the cache.
    execFileSync('umoci', ['config', '--image', `${image.layout}:${image.tag}`, '--tag', 'variant', '--config.env', `HV_VARIANT=${token}`]);
    registry.push(image.layout, 'variant', `${token}/busybox`, 'variant');
    proxy = await new GatedProxy(registry.address).start();
    await t.start();
    await restartAgent();
    c = t.client(ComputeServiceClient);
    watch = new InstanceWatch(c);
    const cluster = t.client(ClusterServiceClient);
    await until(
      'the agent registered with container support',
      async () => (await call(cluster, cluster.listNodes, ListNodesRequest.fromPartial({ pageSize: 10 }))).nodes.some((n) => n.supportedInstanceTypes.includes('container')),
      30_000,
    );
  });
  after(async () => {
    for (const id of made) await call(c, c.deleteInstance, { instanceId: id, force: true }).catch(() => undefined);
    for (const id of made) await until(`${id} gone`, () => existing([path.join(stateDir, 'oci', 'instances', id)]).length === 0, 30_000).catch(() => undefined);
    watch?.close();
    await agent?.stop();
    await t.stop();
    await proxy?.stop();
    await registry.stop();
    image?.remove();
    removeRunCgroups(token);
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  it('a running container outlives kill -9 of its agent; the new agent adopts it (same process, same shell), RUNNING once', async () => {
    const ref = `oci://${registry.address}/${token}/busybox:1`;
    const created = await call(c, c.createInstance, createRequest('survivor', CONTAINER, { image: ref }));
    made.push(created.id);
    await watch.state(created.id, RUNNING, 60_000);
    const pid = containerPid(created.id);
    let con = new ConsoleSession(c, created.id);
    con.type('export MARK=kept; echo "set-$((1+1))"\n');
    assert.ok(await con.waitFor('set-2', 10_000), con.text);
    con.close();

    await agent.kill9();
    assert.ok(isAlive(pid), 'the container runs on without its agent');
    await restartAgent();
    await until('the new agent serves the console', async () => {
      con = new ConsoleSession(c, created.id);
      const from = con.text.length;
      con.type('echo "mark=$MARK-$((3+4))"\n');
      // Until the new agent has registered its port, the console is UNAVAILABLE: try again.
      const ok = await con.waitFor('mark=kept-7', 3_000, from).catch(() => false);
      con.close();
      return ok || undefined;
    }, 30_000).catch((e) => {
      throw new Error(`${(e as Error).message}; console: ${con.text.slice(-300)}; agent log: ${agent.log.slice(-1500)}`);
    });
    assert.equal(containerPid(created.id), pid, 'adopted, not started again');
    assert.ok(isAlive(pid));
    const now = await call(c, c.getInstance, { instanceId: created.id });
    assert.equal(now.state, RUNNING, now.stateReason);
    assert.equal(runningTransitions(created.id), 1);
  });

  it('a container whose agent is killed mid-pull is created by the next agent: RUNNING once, one image in the cache, no scratch left', async () => {
    const ref = `oci://${proxy.address}/${token}/busybox:variant`;
    proxy.hold();
    const held = proxy.nextBlobRequest();
    const created = await call(c, c.createInstance, createRequest('mid-create', CONTAINER, { image: ref }));
    made.push(created.id);
    await until('the agent asks for a blob (its pull is under way)', () => Promise.race([held.then(() => true), new Promise<undefined>((r) => setTimeout(() => r(undefined), 500))]), 30_000);
    const scratch = path.join(stateDir, 'images', 'oci', '.tmp');
    assert.ok(readdirSync(scratch).length > 0, 'the pull is under way in the scratch dir');
    await agent.kill9();
    proxy.release();
    await restartAgent();
    const running = (await watch.state(created.id, RUNNING, 60_000)).instance!;
    assert.equal(running.state, RUNNING);
    assert.equal(runningTransitions(created.id), 1, history(created.id));
    assert.deepEqual(readdirSync(scratch), [], 'the interrupted pull left nothing behind');
    // The cache holds the image once, complete (its config written last), under its manifest digest.
    const digest = (await inspectManifest(parseOciRef('x', ref), LOOPBACK_ALLOWED)).digest.slice(7);
    const entries = readdirSync(path.join(stateDir, 'images', 'oci')).filter((n) => n !== '.tmp');
    assert.ok(entries.includes(digest), entries.join(','));
    for (const e of entries) assert.deepEqual(readdirSync(path.join(stateDir, 'images', 'oci', e)).sort(), ['image.json', 'rootfs']);
    // What the first agent did not finish is not duplicated: one container, one shim.
    assert.equal(processesWith(`--id ${created.id}`).filter((l) => l.includes('console-shim.py')).length, 1);
  });

  it('a container whose agent is killed while runc starts it is started by the next agent: RUNNING once, one shim, its console answers', async () => {
    rmSync(gate);
    rmSync(blocked, { force: true });
    const ref = `oci://${registry.address}/${token}/busybox:1`;
    const created = await call(c, c.createInstance, createRequest('mid-start', CONTAINER, { image: ref }));
    made.push(created.id);
    await until("runc's start of the container is under way (held by the wrapper)", () => existsSync(blocked) || undefined, 30_000).catch((e) => {
      throw new Error(`${(e as Error).message}; ${history(created.id)}; agent log: ${agent.log.slice(-2000)}`);
    });
    await agent.kill9();
    writeFileSync(gate, '');
    await restartAgent();
    await watch.state(created.id, RUNNING, 60_000);
    assert.equal(runningTransitions(created.id), 1, history(created.id));
    // The shim the dead agent started either ran the container (adopted) or was ended before a new one: never two.
    await until('one shim for the container', () => processesWith(`--id ${created.id}`).filter((l) => l.includes('console-shim.py')).length === 1 || undefined, 10_000);
    let answered = false;
    await until('its console answers', async () => {
      const con = new ConsoleSession(c, created.id);
      con.type('echo "alive-$((5*5))"\n');
      answered = await con.waitFor('alive-25', 3_000).catch(() => false);
      con.close();
      return answered || undefined;
    }, 30_000);
    assert.ok(answered);
  });

  it('deleting after the crashes leaves no process, mount, cgroup or directory', async () => {
    for (const id of made) await call(c, c.deleteInstance, { instanceId: id, force: false });
    for (const id of made) await watch.until(`${id} deleted`, (e) => e.type === 3 && e.instance?.id === id, 30_000);
    for (const id of made)
      assert.deepEqual(
        {
          processes: processesWith(id),
          mounts: mountsUnder(path.join(stateDir, 'oci', 'instances', id)),
          cgroups: existing(allDirs(readCgroupLayout(), `/${token}/${id}`)),
          dir: existing([path.join(stateDir, 'oci', 'instances', id)]),
        },
        { processes: [], mounts: [], cgroups: [], dir: [] },
      );
    made.length = 0;
  });
});
