import type { NodeEvent, RegisterNodeRequest } from '../../src/gen/hypervisor/v1/cluster';
import { nodeRegistration } from '../support/nodes';

/** A node in eu-1a with 16 cores, 64 GiB and the gold tier label, for the ClusterService tests. */
export const reg = (hostname: string, over: Partial<RegisterNodeRequest> = {}): RegisterNodeRequest =>
  nodeRegistration(hostname, {
    ip: '10.1.0.1',
    region: 'eu-1',
    zone: 'eu-1a',
    capacity: { cpuCores: 16, memoryBytes: 64n * 2n ** 30n, diskBytes: 500n * 2n ** 30n, gpuCount: 0 },
    metadata: { labels: { tier: 'gold' }, annotations: {} },
    supportedInstanceTypes: ['vm', 'microvm'],
    ...over,
  });

/** Reads a watch stream until `n` events arrived. */
export const take = (stream: NodeJS.EventEmitter & { cancel(): void }, n: number, timeoutMs = 10_000): Promise<NodeEvent[]> =>
  new Promise((resolve, reject) => {
    const got: NodeEvent[] = [];
    const timer = setTimeout(() => reject(new Error(`only ${got.length} of ${n} watch events arrived`)), timeoutMs);
    stream.on('data', (e: NodeEvent) => {
      got.push(e);
      if (got.length === n) {
        clearTimeout(timer);
        resolve(got);
      }
    });
    stream.on('error', (e) => {
      clearTimeout(timer);
      if (got.length < n) reject(e);
    });
  });
