import type { Duplex } from 'node:stream';

/** A driver console's output kept as text, with waits that have deadlines. */
export class ConsoleText {
  text = '';
  ended = false;
  private waiters: (() => void)[] = [];

  constructor(readonly stream: Duplex) {
    stream.on('data', (b: Buffer) => {
      this.text += b.toString('utf8');
      this.wake();
    });
    const end = () => {
      this.ended = true;
      this.wake();
    };
    stream.on('end', end);
    stream.on('close', end);
    stream.on('error', end);
  }

  private wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  type(s: string): void {
    this.stream.write(Buffer.from(s));
  }

  /** Resolves once `s` appears after `from`; false on timeout or end. */
  async waitFor(s: string | RegExp, timeoutMs: number, from = 0): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    const has = () => (typeof s === 'string' ? this.text.includes(s, from) : s.test(this.text.slice(from)));
    while (!has()) {
      if (this.ended) return false;
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return true;
  }

  /** Types a command and waits for a marker it prints (computed, so the echo of the command line does not match). */
  async run(cmd: string, timeoutMs = 10_000): Promise<string> {
    const from = this.text.length;
    const tag = Math.floor(Math.random() * 1e6);
    this.type(`${cmd}; echo "hv-done-$((${tag}+1))"\n`);
    if (!(await this.waitFor(`hv-done-${tag + 1}`, timeoutMs, from))) throw new Error(`no answer to ${cmd}: ${this.text.slice(from)}`);
    return this.text.slice(from);
  }

  close(): void {
    this.stream.destroy();
  }
}
