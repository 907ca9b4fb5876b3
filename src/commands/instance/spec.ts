import type { InstanceKind } from '../../domain/instance-types';
import type { Resources } from '../../domain/resources';

/** What an image holds, as far as booting it goes; `oci` is a container image in a registry. */
export type ImageFormat = 'raw' | 'qcow2' | 'kernel' | 'initrd' | 'oci';

/**
 * Where an agent fetches one image from. Resolved when the instance is
 * created: a known image gives its URL and checksum; a bare URL is pulled on
 * first use (sha256 only when the URL carried `#sha256=`).
 */
export interface ImageSource {
  /** What the user wrote: an image id, an image name, or a URL. */
  readonly ref: string;
  /** http(s) URL without the `#sha256=` fragment, or an oci:// reference without its digest. */
  readonly url: string;
  /** Of the bytes; for an OCI image, of its manifest (what a pull by digest names). */
  readonly sha256?: string;
  readonly imageId?: string;
  readonly sizeBytes?: number;
  readonly format?: ImageFormat;
}

export interface ResolvedImages {
  readonly image?: ImageSource;
  readonly kernel?: ImageSource;
  readonly initrd?: ImageSource;
}

export interface DiskData {
  readonly name: string;
  readonly sizeBytes: number;
  readonly type: string;
  readonly boot: boolean;
}

export interface NetworkData {
  readonly networkId: string;
  readonly subnetId: string;
  readonly securityGroups: string[];
  readonly assignPublicIp: boolean;
}

/** InstanceSpec as the user gave it (plain JSON, stored in the event). */
export interface InstanceSpecData {
  readonly image: string;
  readonly cpuCores: number;
  readonly memoryBytes: number;
  readonly disks: DiskData[];
  readonly network?: NetworkData;
  readonly kernel: string;
  readonly initrd: string;
  readonly kernelArgs: string;
  readonly command: string[];
  readonly args: string[];
  readonly env: Record<string, string>;
  readonly volumeMounts: { name: string; mountPath: string; readOnly: boolean }[];
  readonly limits?: {
    cpuQuota: number;
    cpuPeriod: number;
    memoryLimit: number;
    memorySwap: number;
    ioReadBps: number;
    ioWriteBps: number;
  };
}

/** Where the instance may run: hard filters for the scheduler. */
export interface Placement {
  readonly preferredNodeId: string;
  readonly region: string;
  readonly zone: string;
}

export interface InstanceRequest {
  readonly name: string;
  readonly kind: InstanceKind;
  readonly spec: InstanceSpecData;
  readonly images: ResolvedImages;
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly placement: Placement;
  /** What the scheduler reserves on a node. */
  readonly resources: Resources;
  /** Nodes it is tried on before a failure of the node is final (server setting at creation; absent = 3). */
  readonly maxAttempts?: number;
}
