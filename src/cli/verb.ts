import { Command } from 'commander';
import { Ctx } from './context';

const rootOf = (c: Command): Command => {
  let r = c;
  while (r.parent) r = r.parent;
  return r;
};

/**
 * A verb's action with its invocation context (server, clients, printer):
 * `run(async (ctx, name, opts) => …)`. The clients are closed when it ends;
 * errors go to the one place that reports them (hvctl.ts).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const run = <A extends any[]>(fn: (ctx: Ctx, ...args: A) => Promise<void>) =>
  async function (this: Command, ...args: A): Promise<void> {
    const ctx = new Ctx(rootOf(this));
    try {
      await fn(ctx, ...args);
    } finally {
      ctx.close();
    }
  };

/** A resource's command with its sub-verbs: `hvctl <resource> <verb>`. */
export const resource = (name: string, description: string, aliases: string[] = []): Command => {
  const c = new Command(name).description(description);
  for (const a of aliases) c.alias(a);
  return c;
};

/** The option a list verb takes to keep printing changes. */
export const WATCH = ['-w, --watch', 'after the list, print each change as it happens (Ctrl-C ends)'] as const;

/** Collects a repeated option into a list. */
export const repeat = (v: string, prev: string[] = []): string[] => [...prev, v];
