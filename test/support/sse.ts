/** One Server-Sent Event as the server sent it. */
export interface SseEvent {
  readonly event: string;
  readonly id?: string;
  readonly data: string;
}

/**
 * An EventSource for tests: reads a text/event-stream response with fetch and
 * keeps every event, so a test can await the first that matches.
 */
export class SseClient {
  readonly events: SseEvent[] = [];
  status = 0;
  ended = false;
  /** Called with each event as it arrives (benchmarks time them). */
  onEvent?: (e: SseEvent) => void;
  private readonly abort = new AbortController();
  private waiters: (() => void)[] = [];
  private readonly done: Promise<void>;

  constructor(url: string, headers: Record<string, string> = {}, private readonly keep = true) {
    this.done = this.read(url, headers).catch(() => undefined).finally(() => {
      this.ended = true;
      this.wake();
    });
  }

  private async read(url: string, headers: Record<string, string>): Promise<void> {
    const res = await fetch(url, { headers, signal: this.abort.signal });
    this.status = res.status;
    if (!res.body) return;
    const decoder = new TextDecoder();
    let buf = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      let at: number;
      while ((at = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, at);
        buf = buf.slice(at + 2);
        const fields = new Map<string, string>();
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue;
          const i = line.indexOf(':');
          if (i > 0) fields.set(line.slice(0, i), line.slice(i + 1).replace(/^ /, ''));
        }
        if (fields.has('data')) {
          const e = { event: fields.get('event') ?? 'message', id: fields.get('id'), data: fields.get('data')! };
          if (this.keep) this.events.push(e);
          this.onEvent?.(e);
        }
        this.wake();
      }
    }
  }

  private wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  async until(what: string, match: (e: SseEvent) => boolean, timeoutMs = 10_000): Promise<SseEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.events.find(match);
      if (hit) return hit;
      const left = deadline - Date.now();
      if (this.ended || left <= 0) throw new Error(`${this.ended ? 'stream ended' : 'timed out'} waiting for ${what}; saw ${this.events.map((e) => e.event).join(', ')}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Resolves when the server ended the stream. */
  closed(): Promise<void> {
    return this.done;
  }

  close(): void {
    this.abort.abort();
  }
}
