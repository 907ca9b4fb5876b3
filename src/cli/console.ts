import type { Command } from 'commander';
import { ttyOf } from '../domain/console-tty';
import { EventType, InstanceState } from '../gen/hypervisor/v1/common';
import type { AttachConsoleRequest, ConsoleData, Instance } from '../gen/hypervisor/v1/compute';
import type { Ctx } from './context';
import { CliError, EXIT, explain } from './exit';
import { endedOutside, watchInstance } from './instance-wait';
import { getInstance, instanceRef } from './instance-read';
import { run } from './verb';

/** Ctrl-] then q leaves, as telnet's escape does; Ctrl-] then anything else sends both. */
const ESCAPE = 0x1d;
const LEAVE = 'q'.charCodeAt(0);

/** How long to wait, after the console closed, for the watch to say why. */
const VERDICT_MS = 10_000;

type Outcome = { kind: 'left' } | { kind: 'error'; error: CliError };

/** Splits typed bytes into what goes to the guest and whether the escape sequence asked to leave. */
export class EscapeReader {
  private pending = false;

  feed(chunk: Buffer): { send: Buffer; leave: boolean } {
    const out: number[] = [];
    for (const b of chunk) {
      if (this.pending) {
        this.pending = false;
        if (b === LEAVE) return { send: Buffer.from(out), leave: true };
        out.push(ESCAPE, b);
      } else if (b === ESCAPE) this.pending = true;
      else out.push(b);
    }
    return { send: Buffer.from(out), leave: false };
  }
}

const size = () => ({ width: process.stdout.columns ?? 0, height: process.stdout.rows ?? 0 });

/**
 * The serial console of an instance on this terminal: raw mode (unless it is
 * a container made without a tty), keystrokes to the guest, its output here, a resize on SIGWINCH, Ctrl-] q to leave.
 * The instance is watched alongside, so that when it stops, fails or is
 * deleted the session ends with a message and its exit code instead of
 * staying silently attached.
 */
const attach = async (ctx: Ctx, ref: string): Promise<void> => {
  const id = await instanceRef(ctx, ref);
  const instance = await getInstance(ctx, id);
  const label = instance.name || id;
  const stdin = process.stdin;
  // A container made without a tty reads lines from a pipe: the local terminal stays as it is (echo, line editing, Enter = \n), as with kubectl attach -i.
  const tty = stdin.isTTY === true && ttyOf(instance.metadata?.annotations);
  const stream = ctx.compute.attachConsole(ctx.metadata());
  let settle!: (o: Outcome) => void;
  const outcome = new Promise<Outcome>((r) => (settle = r));
  let verdictTimer: NodeJS.Timeout | undefined;

  // The watch: the first event is the instance as it is now; later ones are changes.
  const watch = watchInstance(ctx, id);
  void (async () => {
    let last: Instance | undefined = instance;
    try {
      for await (const e of watch) {
        if (e.type === EventType.EVENT_TYPE_DELETED) return settle({ kind: 'error', error: endedOutside(e.instance, label, true) });
        last = e.instance ?? last;
        const s = last?.state;
        if (s === InstanceState.INSTANCE_STATE_DELETING) return settle({ kind: 'error', error: endedOutside(last, label, true) });
        if (s === InstanceState.INSTANCE_STATE_STOPPED || s === InstanceState.INSTANCE_STATE_FAILED) return settle({ kind: 'error', error: endedOutside(last, label, false) });
      }
    } catch (e) {
      if ((e as { code?: number }).code === 5) settle({ kind: 'error', error: endedOutside(undefined, label, true) });
      else if ((e as { code?: number }).code !== 1) settle({ kind: 'error', error: new CliError(`UNAVAILABLE: lost the watch of instance ${label}: ${(e as Error).message}`, EXIT.UNAVAILABLE) });
    }
  })();

  const asCliError = (e: unknown) => {
    const { message, exitCode } = explain(e);
    return new CliError(message, exitCode);
  };
  const consoleClosed = (e?: unknown) => {
    if (verdictTimer) return;
    // The watch usually knows why within moments (the guest stopped, the instance went away).
    verdictTimer = setTimeout(
      () => settle({ kind: 'error', error: e ? asCliError(e) : new CliError(`UNAVAILABLE: the console of instance ${label} closed`, EXIT.UNAVAILABLE) }),
      VERDICT_MS,
    );
  };
  stream.on('data', (d: ConsoleData) => process.stdout.write(Buffer.from(d.data)));
  stream.on('end', () => consoleClosed());
  stream.on('error', (e: { code?: number }) => {
    // An answer at once (not RUNNING, no such instance) needs no verdict from the watch.
    if (e.code === EXIT.FAILED_PRECONDITION || e.code === EXIT.NOT_FOUND) settle({ kind: 'error', error: asCliError(e) });
    else if (e.code !== 1) consoleClosed(e);
  });

  const first: AttachConsoleRequest = { instanceId: id, tty, ...size(), data: Buffer.alloc(0) };
  stream.write(first);
  const escape = new EscapeReader();
  const onInput = (chunk: Buffer) => {
    const { send, leave } = escape.feed(chunk);
    if (send.length) stream.write({ instanceId: '', tty, width: 0, height: 0, data: send });
    if (leave) settle({ kind: 'left' });
  };
  const onResize = () => stream.write({ instanceId: '', tty, ...size(), data: Buffer.alloc(0) });
  const onEnd = () => settle({ kind: 'left' });

  process.stderr.write(`attached to instance ${label} (Ctrl-] then q leaves)\r\n`);
  if (tty) stdin.setRawMode(true);
  stdin.on('data', onInput);
  stdin.on('end', onEnd);
  process.on('SIGWINCH', onResize);
  stdin.resume();

  const o = await outcome;
  clearTimeout(verdictTimer);
  process.off('SIGWINCH', onResize);
  stdin.off('data', onInput);
  stdin.off('end', onEnd);
  if (tty) stdin.setRawMode(false);
  stdin.pause();
  stream.removeAllListeners('data');
  stream.on('error', () => undefined);
  stream.cancel();
  void watch.return(undefined);
  process.stderr.write('\r\n');
  if (o.kind === 'error') throw o.error;
  process.stderr.write(`detached from instance ${label}\n`);
};

export const consoleVerb = (c: Command): Command =>
  c
    .command('console')
    .description('Attach this terminal to the instance\'s serial console (Ctrl-] then q leaves; exits 20/21/22 when it stops, fails or is deleted)')
    .argument('<instance>', 'instance id or name')
    .action(run(attach));
