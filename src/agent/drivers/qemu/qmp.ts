import { EventEmitter } from 'node:events';
import type net from 'node:net';
import { DeadlineExceeded, Internal, Unavailable } from '../../../errors';
import { connectUnix } from './unix-socket';

/** The monitor is gone: QEMU exited, or the socket broke. Retrying the same client is pointless. */
export class QmpDisconnected extends Unavailable {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** QEMU answered the command with an error; QEMU itself is fine. */
export class QmpCommandError extends Internal {
  constructor(
    readonly command: string,
    readonly errorClass: string,
    readonly desc: string,
  ) {
    super(`QMP ${command} failed: ${errorClass}: ${desc}`);
  }
}

/** QEMU is alive (it answered a ping) but did not answer this command in time. */
export class QmpTimeout extends DeadlineExceeded {
  constructor(readonly command: string, timeoutMs: number) {
    super(`QMP ${command} got no answer within ${timeoutMs} ms`);
  }
}

export const isQmpDisconnected = (e: unknown): e is QmpDisconnected => e instanceof QmpDisconnected;
export const isQmpCommandError = (e: unknown, errorClass?: string): e is QmpCommandError =>
  e instanceof QmpCommandError && (errorClass === undefined || e.errorClass === errorClass);

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

interface Pending {
  command: string;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export interface QmpConnectOptions {
  /** Covers connect, greeting and capabilities negotiation. */
  timeoutMs?: number;
}

const DEFAULT_COMMAND_TIMEOUT_MS = 10_000;
const PING_TIMEOUT_MS = 2_000;

/**
 * One QMP connection. QEMU serves one client per QMP socket at a time, so the driver
 * keeps one of these per instance (like Incus' monitor) rather than one per call.
 *
 * Events: 'event' (QmpEvent) for every asynchronous QMP event; 'disconnect' (Error)
 * exactly once when the connection ends for any reason, so cleanup always runs.
 */
export class QmpClient extends EventEmitter {
  private nextId = 1;
  private readonly pending = new Map<string, Pending>();
  private buf = '';
  private ended = false;
  private greeting?: (err?: Error) => void;

  private constructor(private readonly sock: net.Socket, readonly path: string) {
    super();
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => this.onData(chunk));
    sock.on('error', (err) => this.teardown(new QmpDisconnected(`QMP socket ${path}: ${err.message}`, { cause: err })));
    sock.on('close', () => this.teardown(new QmpDisconnected(`QMP socket ${path} closed`)));
  }

  static async connect(path: string, opts: QmpConnectOptions = {}): Promise<QmpClient> {
    const timeoutMs = opts.timeoutMs ?? 5_000;
    const sock = await connectUnix(path, timeoutMs).catch((e: Error) => {
      throw new QmpDisconnected(e.message, { cause: e });
    });
    const client = new QmpClient(sock, path);
    const timer = setTimeout(() => {
      client.teardown(
        // A second client is queued, unanswered, until the first leaves.
        new QmpDisconnected(`QMP ${path} sent no greeting within ${timeoutMs} ms (is another client connected?)`),
      );
    }, timeoutMs);
    try {
      await new Promise<void>((resolve, reject) => {
        client.greeting = (err) => (err ? reject(err) : resolve());
      });
      await client.execute('qmp_capabilities', undefined, { timeoutMs, ping: false });
    } catch (e) {
      client.close();
      throw e;
    } finally {
      clearTimeout(timer);
    }
    return client;
  }

  get closed(): boolean {
    return this.ended;
  }

  /**
   * Runs a command. A command that times out is followed by a ping: if QEMU answers the
   * ping the command is reported as QmpTimeout, otherwise the connection is dropped and
   * the caller sees QmpDisconnected ("QEMU died" vs "command failed").
   */
  async execute<T = unknown>(
    command: string,
    args?: Record<string, unknown>,
    opts: { timeoutMs?: number; ping?: boolean } = {},
  ): Promise<T> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    try {
      return (await this.send(command, args, timeoutMs)) as T;
    } catch (e) {
      if (!(e instanceof QmpTimeout) || opts.ping === false) throw e;
      try {
        await this.send('query-version', undefined, PING_TIMEOUT_MS);
      } catch (pingErr) {
        const err = new QmpDisconnected(`QEMU stopped answering on ${this.path} (${command} timed out, ping failed)`, { cause: pingErr });
        this.teardown(err);
        throw err;
      }
      throw e;
    }
  }

  /** Ends the connection; `why` (default: we closed it) is what pending and later commands fail with. */
  close(why?: string): void {
    this.teardown(new QmpDisconnected(why ?? `QMP connection to ${this.path} closed by us`));
  }

  private send(command: string, args: Record<string, unknown> | undefined, timeoutMs: number): Promise<unknown> {
    if (this.ended) return Promise.reject(new QmpDisconnected(`QMP connection to ${this.path} is closed`));
    const id = `hv-${this.nextId++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new QmpTimeout(command, timeoutMs));
      }, timeoutMs);
      this.pending.set(id, { command, resolve, reject, timer });
      const msg: Record<string, unknown> = { execute: command, id };
      if (args) msg.arguments = args;
      this.sock.write(JSON.stringify(msg) + '\n');
    });
  }

  private onData(chunk: string): void {
    this.buf += chunk;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (line) this.onMessage(line);
    }
  }

  private onMessage(line: string): void {
    let msg: Record<string, any>;
    try {
      msg = JSON.parse(line);
    } catch (e) {
      this.teardown(new QmpDisconnected(`QMP ${this.path} sent something that is not JSON: ${line.slice(0, 200)}`, { cause: e }));
      return;
    }
    if ('QMP' in msg) {
      this.greeting?.();
      this.greeting = undefined;
      return;
    }
    if ('event' in msg) {
      this.emit('event', msg as QmpEvent);
      return;
    }
    const p = typeof msg.id === 'string' ? this.pending.get(msg.id) : undefined;
    if (!p) return; // the answer to a command that already timed out
    this.pending.delete(msg.id);
    clearTimeout(p.timer);
    if ('error' in msg) p.reject(new QmpCommandError(p.command, String(msg.error?.class), String(msg.error?.desc)));
    else p.resolve(msg.return);
  }

  private teardown(err: QmpDisconnected): void {
    if (this.ended) return;
    this.ended = true;
    this.greeting?.(err);
    this.greeting = undefined;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
    this.sock.destroy();
    this.emit('disconnect', err);
  }
}
