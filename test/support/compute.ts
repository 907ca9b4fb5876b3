import { execFileSync } from 'node:child_process';
import { Metadata } from '@grpc/grpc-js';
import type { ClientDuplexStream } from '@grpc/grpc-js';
import { InstanceState, InstanceType } from '../../src/gen/hypervisor/v1/common';
import {
  type AttachConsoleRequest,
  type ComputeServiceClient,
  type ConsoleData,
  CreateInstanceRequest,
  type Instance,
  type InstanceEvent,
  InstanceSpec,
  type PullImageProgress,
} from '../../src/gen/hypervisor/v1/compute';
import { ConsoleOutput } from './console';

export const MiB = 2 ** 20;

/** JSON for assertion messages: messages hold bigint (int64) fields, which JSON.stringify refuses. */
export const show = (v: unknown): string => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x));

/** An InstanceSpec as tests write it: sizes may be plain numbers (the wire has int64 as bigint). */
export type SpecInput = Omit<Partial<InstanceSpec>, 'memoryBytes' | 'disks'> & {
  memoryBytes?: number | bigint;
  disks?: { name: string; sizeBytes: number | bigint; type: string; boot: boolean }[];
};

export const spec = ({ memoryBytes, disks, ...over }: SpecInput = {}): InstanceSpec =>
  InstanceSpec.fromPartial({
    cpuCores: 1,
    memoryBytes: BigInt(memoryBytes ?? 256 * MiB),
    disks: (disks ?? []).map((d) => ({ ...d, sizeBytes: BigInt(d.sizeBytes) })),
    ...over,
  });

export const createRequest = (name: string, type: InstanceType, s: SpecInput = {}, over: Partial<CreateInstanceRequest> = {}): CreateInstanceRequest =>
  CreateInstanceRequest.fromPartial({ name, type, spec: spec(s), metadata: { labels: {}, annotations: {} }, ...over });

/** Reads a PullImage stream to its end: every progress message, and the status it ended with. */
export const pull = (c: ComputeServiceClient, imageRef: string, type = InstanceType.INSTANCE_TYPE_UNSPECIFIED) =>
  new Promise<{ progress: PullImageProgress[]; code: number; details: string }>((resolve) => {
    const progress: PullImageProgress[] = [];
    const s = c.pullImage({ imageRef, type });
    s.on('data', (p: PullImageProgress) => progress.push(p));
    s.on('error', (e: { code: number; details: string }) => resolve({ progress, code: e.code, details: e.details }));
    s.on('end', () => resolve({ progress, code: 0, details: '' }));
  });

export const stateName = (s: InstanceState) => InstanceState[s]?.replace('INSTANCE_STATE_', '') ?? String(s);

/**
 * A WatchInstance stream that keeps every event, so a test can wait for the
 * first event that matches (every wait has a deadline) and look at all of them.
 */
export class InstanceWatch {
  readonly events: InstanceEvent[] = [];
  private readonly stream;
  private error?: Error;
  private waiters: (() => void)[] = [];

  constructor(c: ComputeServiceClient, req: { instanceId?: string; nodeId?: string; sinceRevision?: bigint } = {}) {
    this.stream = c.watchInstance({ instanceId: req.instanceId ?? '', nodeId: req.nodeId ?? '', sinceRevision: req.sinceRevision ?? 0n });
    this.stream.on('data', (e: InstanceEvent) => {
      this.events.push(e);
      this.wake();
    });
    this.stream.on('error', (e: Error) => {
      if ((e as { code?: number }).code !== 1) this.error = e;
      this.wake();
    });
  }

  private wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** The first event (from index `from`) that matches; fails after timeoutMs, or as soon as the stream failed. */
  async until(what: string, match: (e: InstanceEvent) => boolean, timeoutMs = 30_000, from = 0): Promise<InstanceEvent> {
    const deadline = Date.now() + timeoutMs;
    for (let i = from; ; ) {
      for (; i < this.events.length; i++) if (match(this.events[i])) return this.events[i];
      if (this.error) throw this.error;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; saw ${this.events.map((e) => `${e.type}:${stateName(e.instance!.state)}`).join(', ')}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  state(id: string, s: InstanceState, timeoutMs?: number, from?: number): Promise<InstanceEvent> {
    return this.until(`${id} ${stateName(s)}`, (e) => e.instance?.id === id && e.instance.state === s && e.type !== 3, timeoutMs, from);
  }

  /** The instance reached a state it will not leave by itself. */
  settled(id: string, timeoutMs?: number): Promise<Instance> {
    return this.until(
      `${id} to settle`,
      (e) => e.instance?.id === id && (e.type === 3 || [InstanceState.INSTANCE_STATE_RUNNING, InstanceState.INSTANCE_STATE_FAILED, InstanceState.INSTANCE_STATE_STOPPED].includes(e.instance.state)),
      timeoutMs,
    ).then((e) => e.instance!);
  }

  close(): void {
    this.stream.cancel();
  }
}

/** AttachConsole from a client's side: first message names the instance (and asks for a tty), then keystrokes. */
export class ConsoleSession extends ConsoleOutput {
  readonly stream: ClientDuplexStream<AttachConsoleRequest, ConsoleData>;
  /** What the server answered in the call's header metadata (x-console-tty), once it has. */
  headers?: Metadata;

  constructor(
    c: ComputeServiceClient,
    instanceId: string,
    md = new Metadata(),
    private readonly tty = true,
  ) {
    super();
    this.stream = c.attachConsole(md);
    this.stream.on('metadata', (m: Metadata) => (this.headers = m));
    this.stream.on('data', (d: ConsoleData) => this.received(Buffer.from(d.data)));
    this.stream.on('end', () => this.ending());
    this.stream.on('error', (e: Error) => this.ending(e));
    this.stream.write({ instanceId, tty, width: 80, height: 24, data: Buffer.alloc(0) });
  }

  type(s: string | Buffer): void {
    this.stream.write({ instanceId: '', tty: this.tty, width: 0, height: 0, data: Buffer.from(s) });
  }

  resize(width: number, height: number): void {
    this.stream.write({ instanceId: '', tty: this.tty, width, height, data: Buffer.alloc(0) });
  }

  close(): void {
    this.stream.end();
  }
}

/** QEMU processes whose command line names this instance. */
export const qemuPids = (instanceId: string): number[] =>
  execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.includes('qemu-system') && l.includes(instanceId))
    .map((l) => Number(l.trim().split(/\s+/)[0]));

