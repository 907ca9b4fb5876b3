import type { Command } from 'commander';
import type { Empty } from '../gen/google/protobuf/empty';
import { ClusterInfo } from '../gen/hypervisor/v1/cluster';
import { formatBytes } from './format';
import { resource, run } from './verb';

/** A server replica as GetClusterInfo's x-hv-replicas header describes it. */
interface Replica {
  readonly replica: string;
  readonly address: string;
  readonly position: number;
  readonly singletons: string[];
}

export const clusterCommand = (): Command => {
  const c = resource('cluster', 'The cluster as a whole');
  c.command('info')
    .description('Name, version, nodes, capacity and what is allocated of it')
    .action(
      run(async (ctx) => {
        let replicas: Replica[] = [];
        const i = await ctx.call<Empty, ClusterInfo>(ctx.cluster, ctx.cluster.getClusterInfo, {}, (md) => {
          const v = md.get('x-hv-replicas')[0];
          if (typeof v === 'string') replicas = JSON.parse(v) as Replica[];
        });
        const cap = i.totalCapacity;
        const used = i.totalAllocated;
        ctx.printer.record(
          i.clusterId,
          {
            Name: i.clusterName,
            ID: i.clusterId,
            Version: i.version,
            Nodes: `${i.readyNodes} ready of ${i.totalNodes}`,
            CPUs: `${used?.cpuCores ?? 0} allocated of ${cap?.cpuCores ?? 0}`,
            Memory: `${formatBytes(used?.memoryBytes ?? 0n)} allocated of ${formatBytes(cap?.memoryBytes ?? 0n)}`,
            Disk: `${formatBytes(used?.diskBytes ?? 0n)} allocated of ${formatBytes(cap?.diskBytes ?? 0n)}`,
            // One line per server replica: where it answers, how far its read models are, the singletons it runs.
            Replicas: replicas.map((r) => `${r.address} at ${r.position}: ${r.singletons.join(', ') || '-'}`).join('; ') || '-',
          },
          { ...(ClusterInfo.toJSON(i) as object), replicas },
        );
      }),
    );
  return c;
};
