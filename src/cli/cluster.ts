import type { Command } from 'commander';
import type { Empty } from '../gen/google/protobuf/empty';
import { ClusterInfo } from '../gen/hypervisor/v1/cluster';
import { formatBytes } from './format';
import { resource, run } from './verb';

export const clusterCommand = (): Command => {
  const c = resource('cluster', 'The cluster as a whole');
  c.command('info')
    .description('Name, version, nodes, capacity and what is allocated of it')
    .action(
      run(async (ctx) => {
        const i = await ctx.call<Empty, ClusterInfo>(ctx.cluster, ctx.cluster.getClusterInfo, {});
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
          },
          ClusterInfo.toJSON(i),
        );
      }),
    );
  return c;
};
