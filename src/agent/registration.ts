import { mkdirSync, readFileSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Metadata, type ServiceError, status } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { normalize, type Resources } from '../domain/resources';
import type { InstanceKind } from '../domain/instance-types';
import { type ClusterServiceClient, type RegisterNodeRequest, type RegisterNodeResponse } from '../gen/hypervisor/v1/cluster';
import { NodeRole } from '../gen/hypervisor/v1/common';
import { type AgentConfig, capacityOf } from './config';
import { resourcesToWire } from '../wire/int64';
import { writeFileAtomic } from '../shared/atomic-file';

/** What the host has: its CPUs, memory, and the disk that holds the state dir (overridable, e.g. for a hollow node). */
export const hostCapacity = async (stateDir: string, override?: Partial<Resources>): Promise<Resources> => {
  let diskBytes = 0;
  try {
    const s = await statfs(stateDir);
    diskBytes = Number(s.blocks) * Number(s.bsize);
  } catch {
    // no statfs: leave disk out of scheduling
  }
  return normalize({ cpuCores: os.cpus().length, memoryBytes: os.totalmem(), diskBytes, gpuCount: 0, ...override });
};

/**
 * Registers the node (the same host name always gets the same id back) and
 * keeps its id in `<stateDir>/node-id`, retrying until the control plane
 * answers. A node id on disk that differs from the answer means the host was
 * renamed: the answer wins, and is logged.
 */
export class Registration {
  private readonly idFile: string;

  constructor(
    private readonly client: ClusterServiceClient,
    private readonly cfg: AgentConfig,
    private readonly log: Logger,
    /** What the node says of itself that has no proto field (tunnel IP, port bindings). */
    private readonly annotations: Record<string, string> = {},
  ) {
    mkdirSync(cfg.stateDir, { recursive: true });
    this.idFile = path.join(cfg.stateDir, 'node-id');
  }

  storedNodeId(): string | undefined {
    try {
      return readFileSync(this.idFile, 'utf8').trim() || undefined;
    } catch {
      return undefined;
    }
  }

  async register(port: number, kinds: InstanceKind[], stopped: () => boolean): Promise<RegisterNodeResponse> {
    const req: RegisterNodeRequest = {
      hostname: this.cfg.hostname,
      ip: this.cfg.advertiseIp,
      port,
      role: NodeRole.NODE_ROLE_WORKER,
      region: this.cfg.region,
      zone: this.cfg.zone,
      // disk_bytes: the file system of the storage pool, where volumes (and instances' disks, beside it) live.
      capacity: resourcesToWire(await hostCapacity(this.cfg.storageDir || path.join(this.cfg.stateDir, 'volumes'), this.cfg.capacity ?? capacityOf(this.cfg))),
      metadata: { labels: this.cfg.labels, annotations: this.annotations },
      supportedInstanceTypes: kinds,
    };
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await new Promise<RegisterNodeResponse>((resolve, reject) =>
          this.client.registerNode(req, new Metadata(), { deadline: Date.now() + 10_000 }, (e, res) => (e ? reject(e) : resolve(res))),
        );
        const stored = this.storedNodeId();
        if (stored && stored !== r.nodeId) this.log.warn({ stored, nodeId: r.nodeId }, 'the control plane gave this host another node id (renamed?); using it');
        if (stored !== r.nodeId) {
          writeFileAtomic(this.idFile, `${r.nodeId}\n`);
        }
        this.log.info({ nodeId: r.nodeId, hostname: req.hostname, kinds, port }, 'registered');
        return r;
      } catch (e) {
        const se = e as ServiceError;
        if (se.code === status.INVALID_ARGUMENT) throw e; // retrying will not fix it
        if (stopped()) throw e;
        const ms = Math.min(5_000, 200 * 2 ** Math.min(attempt, 5));
        if (attempt % 5 === 0) this.log.warn({ err: se.details ?? se.message, server: this.cfg.server, retryInMs: ms }, 'cannot register yet');
        await new Promise((r) => setTimeout(r, ms));
      }
    }
  }
}
