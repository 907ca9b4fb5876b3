import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import { consoleUrl } from '../api';
import { h } from '../dom';
import { LineEditor } from '../line-editor';

/** The WebSocket closes with 4000 + the gRPC code when the server refused or lost the console. */
const CLOSE_BASE = 4000;

/**
 * The instance's serial console in an xterm.js terminal, over the server's
 * WebSocket bridge to AttachConsole: keystrokes go out as binary frames,
 * a resize as a text frame, output comes back as binary frames. The server's
 * first text frame says whether the console is a terminal; one that is not
 * (a container's pipes) gets its lines edited here (line-editor.ts) and its
 * bare newlines drawn as new lines. When the console ends (the instance
 * stopped, or the server said why not) the panel says so; attach() connects
 * again.
 */
export class ConsolePanel {
  readonly el: HTMLElement;
  private readonly term: Terminal;
  private readonly fit = new FitAddon();
  private readonly status = h('span', { class: 'console-status', 'data-console-status': 'idle' }, 'not attached');
  private readonly screen = h('div', { class: 'terminal', id: 'terminal' });
  private ws?: WebSocket;
  private readonly encoder = new TextEncoder();
  /** Set while the console is not a terminal. */
  private lines?: LineEditor;
  private readonly onWindowResize = () => this.fit.fit();

  constructor(private readonly instanceId: string) {
    this.term = new Terminal({ cursorBlink: true, fontSize: 14, scrollback: 5000, fontFamily: 'ui-monospace, "DejaVu Sans Mono", monospace', theme: { background: '#000000' } });
    this.term.loadAddon(this.fit);
    const again = h('button', { type: 'button', class: 'reattach', onclick: () => this.reattach() }, 'Reconnect');
    this.el = h('section', { class: 'console' }, h('h2', {}, 'Serial console ', this.status, again), this.screen);
    this.term.onData((s) => {
      if (!this.lines) return this.send(this.encoder.encode(s));
      const { echo, send } = this.lines.feed(s);
      if (echo) this.term.write(echo);
      if (send) this.send(this.encoder.encode(send));
    });
    this.term.onBinary((s) => this.send(Uint8Array.from(s, (c) => c.charCodeAt(0))));
    this.term.onResize(({ cols, rows }) => {
      if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ type: 'resize', cols, rows }));
    });
  }

  /** After the panel is in the document: the terminal needs its size. */
  mount(): void {
    this.term.open(this.screen);
    this.fit.fit();
    window.addEventListener('resize', this.onWindowResize);
  }

  /** What the header says while no console is attached. */
  idle(text: string): void {
    if (!this.attached && this.status.dataset.consoleStatus !== 'closed') this.setStatus('idle', text);
  }

  get attached(): boolean {
    return this.ws !== undefined && this.ws.readyState <= WebSocket.OPEN;
  }

  attach(): void {
    if (this.attached) return;
    const ws = (this.ws = new WebSocket(consoleUrl(this.instanceId, this.term.cols, this.term.rows)));
    ws.binaryType = 'arraybuffer';
    this.setStatus('connecting', 'connecting…');
    ws.onopen = () => {
      this.setStatus('open', 'attached');
      this.term.focus();
    };
    ws.onmessage = (m) => {
      if (m.data instanceof ArrayBuffer) return this.term.write(new Uint8Array(m.data));
      const mode = parseMode(m.data);
      if (mode) this.setTty(mode.tty);
    };
    ws.onclose = (c) => {
      if (this.ws !== ws) return;
      const why = c.code >= CLOSE_BASE ? c.reason : c.code === 1000 || c.code === 1001 ? c.reason || 'console closed' : `connection lost (${c.code})`;
      this.term.write(`\r\n\x1b[33m[${why}]\x1b[0m\r\n`);
      this.setStatus('closed', why);
    };
  }

  /** Drops the current connection (if any) and attaches anew: after a restart, or when the user asks. */
  reattach(): void {
    const old = this.ws;
    this.ws = undefined;
    old?.close(1000);
    this.attach();
  }

  private setTty(tty: boolean): void {
    this.lines = tty ? undefined : new LineEditor();
    this.term.options.convertEol = !tty;
    this.screen.dataset.tty = String(tty);
  }

  private send(b: Uint8Array): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(b);
  }

  private setStatus(state: string, text: string): void {
    this.status.dataset.consoleStatus = state;
    this.status.textContent = text;
  }

  dispose(): void {
    window.removeEventListener('resize', this.onWindowResize);
    const ws = this.ws;
    this.ws = undefined;
    ws?.close(1000);
    this.term.dispose();
  }
}

/** The server's `{"type":"console","tty":…}` frame. */
const parseMode = (data: unknown): { tty: boolean } | undefined => {
  if (typeof data !== 'string') return undefined;
  try {
    const m = JSON.parse(data) as { type?: unknown; tty?: unknown };
    return m.type === 'console' && typeof m.tty === 'boolean' ? { tty: m.tty } : undefined;
  } catch {
    return undefined;
  }
};
