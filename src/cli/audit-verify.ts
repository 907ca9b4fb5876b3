import { connect } from 'nats';
import YAML from 'yaml';
import { openEventStore } from '../eventstore/open';
import { natsServers } from '../shared/nats-servers';
import { replayCheck } from '../verify/replay-check';
import type { Ctx } from './context';
import { CliError, EXIT } from './exit';

/** `hvctl verify`: every read model rebuilt from the log, compared with what the server serves. */
export const verify = async (ctx: Ctx, o: { natsUrl: string; eventStore?: string }) => {
  const nc = await connect({ servers: natsServers(o.natsUrl) });
  const store = await openEventStore(o.eventStore, nc);
  try {
    const r = await replayCheck({ store, address: ctx.server });
    if (ctx.printer.format === 'json') ctx.printer.out(JSON.stringify(r, null, 2));
    else if (ctx.printer.format === 'yaml') ctx.printer.out(YAML.stringify(r).trimEnd());
    else if (r.ok)
      ctx.printer.out(`ok: ${Object.entries(r.compared).map(([m, n]) => `${m} (${n})`).join(', ')} rebuilt to revision ${r.position} match the server`);
    if (!r.ok) {
      const more = r.differences.length > 1 ? ` (${r.differences.length - 1} more)` : '';
      throw new CliError(`first difference: ${r.differences[0]}${more}`, EXIT.FAILURE);
    }
  } finally {
    await store.close();
    await nc.close();
  }
};
