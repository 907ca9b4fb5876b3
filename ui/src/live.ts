import { replicas } from './replicas';
import type { WatchEvent } from './types';

export type LiveStatus = 'connecting' | 'live' | 'reconnecting';

const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 10_000;
/** The watch socket closes with 4000 + the gRPC code when the server ended the watch with an error. */
const OUT_OF_RANGE = 4000 + 11;

/** A frame of the server's watch socket (src/http/ui/watch-socket.ts). */
type Frame = { type: 'start'; resumed: boolean; sinceRevision: string } | { type: 'change'; revision: string; event: WatchEvent };

/**
 * The objects of one server watch (snapshot, then changes), kept by id and
 * live over a WebSocket (not EventSource: a browser gives a host six HTTP
 * connections, and every EventSource holds one). When the socket drops it
 * connects again, with a growing pause, from the last revision it saw, and
 * the server resumes the watch exactly there; when it has to start over
 * with a snapshot instead (the revision is too old: the `start` frame says
 * which), what was here before is dropped, so a delete missed while away is
 * not kept. A socket that drops goes to the next server replica (replicas.ts):
 * its own may be the one that stopped answering, and the watch resumes on any.
 */
export class LiveCollection<T extends { id: string }> {
  readonly items = new Map<string, T>();
  status: LiveStatus = 'connecting';
  revision = '0';
  /** The replica (host:port) the watch is on now. */
  host = location.host;
  /** Whether the last start resumed from a revision (rather than a new snapshot). */
  resumed = false;
  private socket?: WebSocket;
  private retry?: ReturnType<typeof setTimeout>;
  private retryMs = FIRST_RETRY_MS;
  private stopped = false;
  private readonly listeners = new Set<(changed?: T, deleted?: boolean) => void>();

  constructor(
    private readonly path: string,
    private readonly objectOf: (e: WatchEvent) => T | undefined,
  ) {}

  start(): this {
    this.connect();
    return this;
  }

  private url(): string {
    const u = new URL(this.path, location.href);
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    u.host = this.host;
    u.hash = '';
    if (this.revision !== '0') u.searchParams.set('since_revision', this.revision);
    return u.toString();
  }

  private connect(): void {
    const ws = (this.socket = new WebSocket(this.url()));
    ws.onmessage = (m) => {
      const f = JSON.parse(m.data as string) as Frame;
      if (f.type === 'start') {
        this.retryMs = FIRST_RETRY_MS;
        this.resumed = f.resumed;
        if (!f.resumed) this.items.clear();
        this.setStatus('live');
        // Even an empty snapshot is news: the views draw what there is now.
        if (!f.resumed) this.emit();
        return;
      }
      this.revision = f.revision;
      const o = this.objectOf(f.event);
      if (!o) return;
      const deleted = f.event.type === 'EVENT_TYPE_DELETED';
      if (deleted) this.items.delete(o.id);
      else this.items.set(o.id, o);
      this.emit(o, deleted);
    };
    ws.onclose = (c) => {
      if (this.stopped || this.socket !== ws) return;
      // Too old to resume from: start over with a snapshot.
      if (c.code === OUT_OF_RANGE) this.revision = '0';
      // Anything else: this replica may be gone, so the next one is tried (a live one serves the same watch).
      else this.host = replicas.after(this.host);
      this.setStatus('reconnecting');
      this.retry = setTimeout(() => this.connect(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
    };
  }

  private setStatus(s: LiveStatus): void {
    if (this.status === s) return;
    this.status = s;
    this.emit();
  }

  private emit(changed?: T, deleted?: boolean): void {
    for (const l of this.listeners) l(changed, deleted);
  }

  /** Called on every change (and status change, and new snapshot); returns the unsubscribe. */
  subscribe(fn: (changed?: T, deleted?: boolean) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retry);
    this.socket?.close();
    this.listeners.clear();
  }
}
