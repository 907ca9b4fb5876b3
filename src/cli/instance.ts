import type { Command } from 'commander';
import type { Empty } from '../gen/google/protobuf/empty';
import { InstanceState, InstanceType } from '../gen/hypervisor/v1/common';
import {
  type DeleteInstanceRequest,
  type GetInstanceStatsRequest,
  Instance,
  type InstanceEvent,
  InstanceStats,
  type MigrateInstanceRequest,
  type RestartInstanceRequest,
  type StartInstanceRequest,
  type StopInstanceRequest,
  type WatchInstanceRequest,
} from '../gen/hypervisor/v1/compute';
import { consoleVerb } from './console';
import { enumValue, formatBytes, parsePairs } from './format';
import { createVerb } from './instance-create';
import { EVENT_WORD, getInstance, INSTANCE, instanceRef, listInstances } from './instance-read';
import { waitForInstance } from './instance-wait';
import { nodeRef } from './node';
import { repeat, resource, run, WATCH } from './verb';
import { watchList } from './watch';

const WAIT = ['--wait', 'follow the instance until it gets there, printing each state (exit 21 when it FAILED)'] as const;
const TIMEOUT = ['--wait-timeout <seconds>', 'how long --wait waits', (v: string) => Number(v), 300] as const;

async function* instanceChanges(stream: AsyncIterable<InstanceEvent>, matches: (i: Instance) => boolean) {
  for await (const e of stream) {
    const type = EVENT_WORD[e.type];
    if (!e.instance || !type) continue;
    yield { type: type !== 'DELETED' && !matches(e.instance) ? ('DELETED' as const) : type, object: e.instance };
  }
}

export const instanceCommand = (): Command => {
  const c = resource('instance', 'VMs, microVMs and containers: create, run, watch, attach', ['instances', 'vm']);
  createVerb(c);

  c.command('list')
    .alias('ls')
    .description('List instances')
    .option('--state <state>', 'pending, creating, running, stopped, failed or deleting')
    .option('--type <type>', 'vm, microvm or container')
    .option('--node <node>', 'only those on this node (id or host name)')
    .option('-l, --selector <key=value>', 'only instances with this label (repeat for several)', repeat)
    .option(...WATCH)
    .action(
      run(async (ctx, o: { state?: string; type?: string; node?: string; selector?: string[]; watch?: boolean }) => {
        const filter = {
          state: o.state ? enumValue(InstanceState, 'INSTANCE_STATE_', o.state, '--state') : 0,
          type: o.type ? enumValue(InstanceType, 'INSTANCE_TYPE_', o.type, '--type') : 0,
          nodeId: o.node ? await nodeRef(ctx, o.node) : '',
          labelSelector: parsePairs(o.selector, '--selector'),
        };
        const items = await listInstances(ctx, filter);
        if (!o.watch) return ctx.printer.list(INSTANCE, items);
        const matches = (i: Instance) =>
          (filter.state === 0 || i.state === filter.state) &&
          (filter.type === 0 || i.type === filter.type) &&
          Object.entries(filter.labelSelector).every(([k, v]) => i.metadata?.labels[k] === v);
        const stream = ctx.watch<WatchInstanceRequest, InstanceEvent>(ctx.compute, ctx.compute.watchInstance, { instanceId: '', nodeId: filter.nodeId, sinceRevision: 0n });
        await watchList(ctx, INSTANCE, items, instanceChanges(stream, matches));
      }),
    );

  c.command('get')
    .description('Show one instance')
    .argument('<instance>', 'instance id or name')
    .action(run(async (ctx, ref: string) => ctx.printer.one(INSTANCE, await getInstance(ctx, await instanceRef(ctx, ref)))));

  c.command('start')
    .description('Start a stopped instance')
    .argument('<instance>', 'instance id or name')
    .option(...WAIT)
    .option(...TIMEOUT)
    .action(
      run(async (ctx, ref: string, o: { wait?: boolean; waitTimeout: number }) => {
        const id = await instanceRef(ctx, ref);
        let i = await ctx.call<StartInstanceRequest, Instance>(ctx.compute, ctx.compute.startInstance, { instanceId: id });
        if (o.wait) i = (await waitForInstance(ctx, id, ref, InstanceState.INSTANCE_STATE_RUNNING, o.waitTimeout, i))!;
        await ctx.printer.one(INSTANCE, i);
      }),
    );

  c.command('stop')
    .description('Stop an instance: the ACPI power button, then forced after the timeout')
    .argument('<instance>', 'instance id or name')
    .option('--force', 'stop at once, without asking the guest')
    .option('--timeout <seconds>', 'how long the guest has to shut down (default: the server\'s)', (v) => Number(v), 0)
    .option(...WAIT)
    .option(...TIMEOUT)
    .action(
      run(async (ctx, ref: string, o: { force?: boolean; timeout: number; wait?: boolean; waitTimeout: number }) => {
        const id = await instanceRef(ctx, ref);
        let i = await ctx.call<StopInstanceRequest, Instance>(ctx.compute, ctx.compute.stopInstance, { instanceId: id, force: !!o.force, timeoutSeconds: o.timeout });
        if (o.wait) i = (await waitForInstance(ctx, id, ref, InstanceState.INSTANCE_STATE_STOPPED, o.waitTimeout, i))!;
        await ctx.printer.one(INSTANCE, i);
      }),
    );

  c.command('restart')
    .description('Restart an instance (reboot in place)')
    .argument('<instance>', 'instance id or name')
    .option('--force', 'reset at once, without asking the guest')
    .action(
      run(async (ctx, ref: string, o: { force?: boolean }) => {
        const id = await instanceRef(ctx, ref);
        // The call answers once the guest is back: say what it waits for (the grace period is the server's, 30 s by default).
        process.stderr.write(
          o.force
            ? `restarting ${ref}: resetting it now\n`
            : `restarting ${ref}: the guest is asked to reboot (ACPI) and reset if it has not shut down within the server's grace period (30 s unless HV_STOP_TIMEOUT_SECONDS says otherwise; --force resets at once); waiting…\n`,
        );
        const started = Date.now();
        const i = await ctx.call<RestartInstanceRequest, Instance>(ctx.compute, ctx.compute.restartInstance, { instanceId: id, force: !!o.force });
        process.stderr.write(`restarted ${ref} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
        await ctx.printer.one(INSTANCE, i);
      }),
    );

  c.command('migrate')
    .description('Move an instance to another node: live (it keeps running) unless --cold; progress shows in its reason')
    .argument('<instance>', 'instance id or name')
    .option('--to <node>', 'the target node (id or hostname); by default the scheduler chooses')
    .option('--cold', "stop it, copy its disks and volumes to the target, make it there and start it if it ran (a container's rootfs is made afresh from its image)")
    .action(
      run(async (ctx, ref: string, o: { to?: string; cold?: boolean }) => {
        const id = await instanceRef(ctx, ref);
        const req = { instanceId: id, targetNodeId: o.to ? await nodeRef(ctx, o.to) : '', live: !o.cold };
        ctx.printer.one(INSTANCE, await ctx.call<MigrateInstanceRequest, Instance>(ctx.compute, ctx.compute.migrateInstance, req));
      }),
    );

  c.command('delete')
    .alias('rm')
    .description('Delete an instance (its disks, port and address are released)')
    .argument('<instance>', 'instance id or name')
    .option('--force', 'do not wait for the guest to shut down')
    .option('--wait', 'wait until it is gone')
    .option(...TIMEOUT)
    .action(
      run(async (ctx, ref: string, o: { force?: boolean; wait?: boolean; waitTimeout: number }) => {
        const id = await instanceRef(ctx, ref);
        await ctx.call<DeleteInstanceRequest, Empty>(ctx.compute, ctx.compute.deleteInstance, { instanceId: id, force: !!o.force });
        if (o.wait) await waitForInstance(ctx, id, ref, 'DELETED', o.waitTimeout);
        ctx.printer.done(id, `instance ${ref} ${o.wait ? 'deleted' : 'is being deleted'}`);
      }),
    );

  c.command('stats')
    .description('CPU, memory, disk and network figures of a running instance')
    .argument('<instance>', 'instance id or name')
    .action(
      run(async (ctx, ref: string) => {
        const id = await instanceRef(ctx, ref);
        const s = await ctx.call<GetInstanceStatsRequest, InstanceStats>(ctx.compute, ctx.compute.getInstanceStats, { instanceId: id });
        ctx.printer.record(
          id,
          {
            Instance: s.instanceId,
            CPU: `${s.cpuUsagePercent.toFixed(1)}%`,
            'CPU time': `${(Number(s.cpuTimeNs) / 1e9).toFixed(2)}s`,
            'Memory used': formatBytes(s.memoryUsedBytes),
            'Memory cache': formatBytes(s.memoryCacheBytes),
            'Disk read': formatBytes(s.diskReadBytes),
            'Disk written': formatBytes(s.diskWriteBytes),
            'Network rx': formatBytes(s.networkRxBytes),
            'Network tx': formatBytes(s.networkTxBytes),
            Collected: s.collectedAt?.toISOString() ?? '',
          },
          InstanceStats.toJSON(s),
        );
      }),
    );

  c.command('watch')
    .description('Print every change of one instance, of those on a node, or of all, as it happens')
    .argument('[instance]', 'instance id or name (none: every instance)')
    .option('--node <node>', 'only instances on this node')
    .option('--since <revision>', 'replay the changes after this log revision first', (v) => BigInt(v), 0n)
    .action(
      run(async (ctx, ref: string | undefined, o: { node?: string; since: bigint }) => {
        const req = { instanceId: ref ? await instanceRef(ctx, ref) : '', nodeId: o.node ? await nodeRef(ctx, o.node) : '', sinceRevision: o.since };
        const stream = ctx.watch<WatchInstanceRequest, InstanceEvent>(ctx.compute, ctx.compute.watchInstance, req);
        await ctx.printer.watchStart(INSTANCE, []);
        for await (const e of stream) if (e.instance) ctx.printer.watchEvent(INSTANCE, EVENT_WORD[e.type] ?? 'MODIFIED', e.instance);
      }),
    );

  consoleVerb(c);
  return c;
};
