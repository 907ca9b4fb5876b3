// The proto3 JSON mapping of the hypervisor.v1 messages the page shows
// (what /ui/api answers): enums by name, 64-bit integers as strings, fields
// at their default value left out.

export interface Resources {
  cpuCores?: number;
  memoryBytes?: string;
  diskBytes?: string;
  gpuCount?: number;
}

export interface Metadata {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface Node {
  id: string;
  hostname?: string;
  ip?: string;
  port?: number;
  role?: string;
  status?: string;
  region?: string;
  zone?: string;
  capacity?: Resources;
  allocatable?: Resources;
  allocated?: Resources;
  conditions?: { type?: string; status?: string; reason?: string; message?: string }[];
  metadata?: Metadata;
  supportedInstanceTypes?: string[];
  createdAt?: string;
  lastSeen?: string;
}

export interface DiskSpec {
  name?: string;
  sizeBytes?: string;
  type?: string;
  boot?: boolean;
}

export interface InstanceSpec {
  image?: string;
  cpuCores?: number;
  memoryBytes?: string;
  disks?: DiskSpec[];
  network?: Record<string, unknown>;
  kernel?: string;
  initrd?: string;
  kernelArgs?: string;
  command?: string[];
  args?: string[];
}

export interface Instance {
  id: string;
  name?: string;
  type?: string;
  state?: string;
  spec?: InstanceSpec;
  nodeId?: string;
  ipAddress?: string;
  metadata?: Metadata;
  stateReason?: string;
  createdAt?: string;
  startedAt?: string;
}

/** A change from a watch: ADDED (the snapshot, or new), MODIFIED, DELETED. */
export interface WatchEvent {
  type?: 'EVENT_TYPE_ADDED' | 'EVENT_TYPE_MODIFIED' | 'EVENT_TYPE_DELETED';
  timestamp?: string;
  revision?: string;
}
export interface NodeEvent extends WatchEvent {
  node?: Node;
}
export interface InstanceEvent extends WatchEvent {
  instance?: Instance;
}

export interface AuditEvent {
  revision?: string;
  id?: string;
  type?: string;
  aggregateType?: string;
  aggregateId?: string;
  time?: string;
  actor?: string;
  correlationId?: string;
  causationId?: string;
  schemaVersion?: number;
  data?: Record<string, unknown>;
}

export interface ClusterInfo {
  clusterId?: string;
  clusterName?: string;
  version?: string;
  totalNodes?: number;
  readyNodes?: number;
}

export interface Volume {
  id: string;
  name?: string;
  sizeBytes?: string;
  type?: string;
  status?: string;
  instanceId?: string;
  nodeId?: string;
  devicePath?: string;
  encrypted?: boolean;
  encryptionKeyId?: string;
  iopsLimit?: string;
  throughputLimit?: string;
  metadata?: Metadata;
  createdAt?: string;
  attachedAt?: string;
}
