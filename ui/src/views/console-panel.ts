import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import { consoleUrl } from '../api';
import { h } from '../dom';

/** The WebSocket closes with 4000 + the gRPC code when the server refused or lost the console. */
const CLOSE_BASE = 4000;

/**
 * The instance's serial console in an xterm.js terminal, over the server's
 * WebSocket bridge to AttachConsole: keystrokes go out as binary frames,
 * a resize as a text frame, output comes back as binary frames. When the
 * console ends (the instance stopped, or the server said why not) the panel
 * says so; attach() connects again.
 */
export class ConsolePanel {
  readonly el: HTMLElement;
  private readonly term: Terminal;
  private readonly fit = new FitAddon();
  private readonly status = h('span', { class: 'console-status', 'data-console-status': 'idle' }, 'not attached');
  private readonly screen = h('div', { class: 'terminal', id: 'terminal' });
  private ws?: WebSocket;
  private readonly encoder = new TextEncoder();
  private readonly onWindowResize = () => this.fit.fit();

  constructor(private readonly instanceId: string) {
    this.term = new Terminal({ cursorBlink: true, fontSize: 14, scrollback: 5000, fontFamily: 'ui-monospace, "DejaVu Sans Mono", monospace', theme: { background: '#000000' } });
    this.term.loadAddon(this.fit);
    const again = h('button', { type: 'button', class: 'reattach', onclick: () => this.reattach() }, 'Reconnect');
    this.el = h('section', { class: 'console' }, h('h2', {}, 'Serial console ', this.status, again), this.screen);
    this.term.onData((s) => this.send(this.encoder.encode(s)));
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
      if (m.data instanceof ArrayBuffer) this.term.write(new Uint8Array(m.data));
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
