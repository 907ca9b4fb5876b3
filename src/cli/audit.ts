import { Command, Option } from 'commander';
import YAML from 'yaml';
import { AuditEvent, type GetStateAtRequest, type ListEventsRequest, type ListEventsResponse, type StateAt } from '../gen/hypervisor/audit/v1/audit';
import type { Ctx } from './context';
import { CliError, EXIT } from './exit';
import { parseAt, parseCount, parseTime } from './format';
import { aggregateId } from './refs';
import { column, type Kind, renderTable } from './print';
import { repeat, run } from './verb';

const short = (id: string) => (id.length > 13 ? `${id.slice(0, 8)}…` : id);

export const EVENT: Kind<AuditEvent> = {
  singular: 'event',
  id: (e) => e.id,
  toJSON: (e) => AuditEvent.toJSON(e),
  columns: [
    column('REVISION', (e) => String(e.revision)),
    column('TIME', (e) => e.time?.toISOString()),
    column('KIND', (e) => e.aggregateType),
    column('ID', (e) => short(e.aggregateId)),
    column('TYPE', (e) => e.type),
    column('ACTOR', (e) => e.actor),
    column('CORRELATION', (e) => short(e.correlationId)),
  ],
};

interface EventFlags {
  kind?: string;
  id?: string;
  actor?: string;
  type?: string[];
  since?: bigint;
  from?: string;
  to?: string;
  limit?: number;
  follow?: boolean;
  poll: number;
}

const events = async (ctx: Ctx, o: EventFlags) => {
  const base: Omit<ListEventsRequest, 'sinceRevision' | 'pageToken'> = {
    aggregateType: o.kind ?? '',
    aggregateId: await aggregateId(ctx, o.kind ?? '', o.id ?? ''),
    actor: o.actor ?? '',
    fromTime: o.from ? parseTime(o.from) : undefined,
    toTime: o.to ? parseTime(o.to) : undefined,
    types: o.type ?? [],
    pageSize: 100,
  };
  const json = ctx.printer.format === 'json';
  let printed = 0;
  let headerDone = false;
  const print = (page: AuditEvent[]) => {
    if (page.length === 0) return;
    // One event a line (JSON) or document (YAML), so that --follow can stream them.
    if (json) for (const e of page) ctx.printer.out(JSON.stringify(AuditEvent.toJSON(e)));
    else if (ctx.printer.format === 'yaml') for (const e of page) ctx.printer.out(`---\n${YAML.stringify(AuditEvent.toJSON(e)).trimEnd()}`);
    else if (ctx.printer.format === 'name') for (const e of page) ctx.printer.out(e.id);
    else {
      const lines = renderTable(EVENT.columns.map((c) => c.header), page.map((e) => EVENT.columns.map((c) => c.cell(e)))).split('\n');
      ctx.printer.out((headerDone ? lines.slice(1) : lines).join('\n'));
      headerDone = true;
    }
  };
  let since = o.since ?? 0n;
  for (;;) {
    let pageToken = '';
    // A page token belongs to its query: `since` moves only once the pages are read.
    let upTo = since;
    do {
      const r = await ctx.call<ListEventsRequest, ListEventsResponse>(ctx.audit, ctx.audit.listEvents, { ...base, sinceRevision: since, pageToken });
      const take = o.limit !== undefined ? r.events.slice(0, Math.max(0, o.limit - printed)) : r.events;
      print(take);
      printed += take.length;
      if (r.events.length) upTo = r.events[r.events.length - 1].revision;
      if (o.limit !== undefined && printed >= o.limit) return;
      pageToken = r.nextPageToken;
    } while (pageToken);
    // A commit is visible whole or not at all, so resuming after its revision loses nothing.
    since = upTo;
    if (!o.follow) break;
    await new Promise((r) => setTimeout(r, o.poll));
  }
  if (ctx.printer.tabular && printed === 0) process.stderr.write('no events\n');
};

const state = async (ctx: Ctx, kind: string, id: string, o: { at?: string }) => {
  const at = o.at ? parseAt(o.at) : {};
  const s = await ctx.call<GetStateAtRequest, StateAt>(ctx.audit, ctx.audit.getStateAt, { aggregateType: kind, aggregateId: await aggregateId(ctx, kind, id), ...at });
  const doc = { aggregateType: s.aggregateType, aggregateId: s.aggregateId, exists: s.exists, revision: s.revision.toString(), time: s.time?.toISOString(), state: s.state ?? null };
  if (ctx.printer.format === 'json') return ctx.printer.out(JSON.stringify(doc, null, 2));
  if (ctx.printer.format === 'yaml') return ctx.printer.out(YAML.stringify(doc).trimEnd());
  if (ctx.printer.format === 'name') return ctx.printer.out(s.aggregateId);
  ctx.printer.out(renderTable(['KIND', 'ID', 'EXISTS', 'REVISION', 'TIME'], [[s.aggregateType, s.aggregateId, String(s.exists), String(s.revision), s.time?.toISOString() ?? '']]));
  if (s.state) ctx.printer.out(`\n${JSON.stringify(s.state, null, 2)}`);
  else if (s.revision === 0n) ctx.printer.out('\n(not created yet at that point)');
  else ctx.printer.out('\n(deleted at that point)');
};

/** The audit verbs: the log as the audit trail, a resource at a point in time, and the read models checked against the log. */
export const auditCommands = (): Command[] => [
  new Command('events')
    .description('List events of the log (the audit trail), oldest first; --follow keeps printing new ones')
    .option('-k, --kind <aggregate_type>', 'node, instance, image, network, subnet, port, security_group, router, floating_ip')
    .option('-i, --id <id or name>', 'one resource (needs --kind): its id, or a name as the resource verbs take it')
    .option('-a, --actor <actor>', 'who asked (x-actor, anonymous, system:<component>)')
    .option('-t, --type <type>', 'an event type, e.g. NodeRegistered (repeat for several)', repeat)
    .option('--since <revision>', 'events after this log revision', (v) => BigInt(v))
    .option('--from <time>', 'events at or after this time (RFC 3339, or 15m / 2h / 3d ago)')
    .option('--to <time>', 'events before this time')
    .option('-n, --limit <n>', 'print at most this many', parseCount('--limit'))
    .option('-f, --follow', 'after the last one, keep printing new events as they are committed')
    .option('--poll <ms>', 'how often --follow asks for new events', parseCount('--poll'), 500)
    .action(run(events)),
  new Command('state')
    .description('Show a resource as it was at a revision or a time (now without --at); a point beyond the log\'s head is OUT_OF_RANGE')
    .argument('<kind>', 'node, instance, image, network, subnet, port, security_group, router, floating_ip')
    .argument('<id>', 'the resource: its id, or a name as the resource verbs take it')
    .option('--at <time|revision>', 'a log revision (digits), a time (RFC 3339) or a duration ago (15m)')
    .action(run(state)),
  new Command('verify')
    .description('Rebuild every read model from log position zero and compare it with what the server serves; exit 1 naming the first difference')
    .addOption(new Option('--nats-url <url>', 'NATS of the control plane (several of one cluster: comma separated)').default('nats://127.0.0.1:4222').env('HV_NATS_URL'))
    .addOption(new Option('--event-store <url>', 'the event store, if not the JetStream log on that NATS (esdb://…)').env('HV_EVENT_STORE'))
    // Loaded by this verb only: the log's client and every model's replay (rxjs, nats, the deciders) are most
    // of what hvctl would otherwise load on every start, for the one verb that reads the log itself.
    .action(run(async (ctx, o: { natsUrl: string; eventStore?: string }) => (await import('./audit-verify')).verify(ctx, o))),
];
