#!/usr/bin/env node
import { credentials, type ServiceError, status } from '@grpc/grpc-js';
import { Command, Option } from 'commander';
import { connect } from 'nats';
import { openEventStore } from '../eventstore/open';
import { AuditEvent, AuditServiceClient, type ListEventsRequest, type ListEventsResponse, type GetStateAtRequest, type StateAt } from '../gen/hypervisor/audit/v1/audit';
import { replayCheck } from '../verify/replay-check';
import { parseAt, parseTime, table } from './format';

/** hvctl: the operator's command line for the control plane (audit commands for now). */
const program = new Command('hvctl')
  .description('Command line for the hypervisor control plane')
  .addOption(new Option('-s, --server <address>', 'gRPC address of the control plane').default('127.0.0.1:50051').env('HV_SERVER'))
  .addOption(new Option('-o, --output <format>', 'table or json').choices(['table', 'json']).default('table'));

const audit = () => new AuditServiceClient(program.opts().server, credentials.createInsecure());
const json = () => program.opts().output === 'json';

const unary = <Req, Res>(client: object, method: unknown, req: Req): Promise<Res> =>
  new Promise((resolve, reject) =>
    (method as (r: Req, cb: (e: ServiceError | null, r: Res) => void) => void).call(client, req, (e, r) => (e ? reject(e) : resolve(r))),
  );

const short = (id: string) => (id.length > 13 ? `${id.slice(0, 8)}…` : id);
const eventRow = (e: AuditEvent) => [
  String(e.revision),
  e.time?.toISOString() ?? '',
  e.aggregateType,
  short(e.aggregateId),
  e.type,
  e.actor,
  short(e.correlationId),
];
const EVENT_HEADER = ['REVISION', 'TIME', 'KIND', 'ID', 'TYPE', 'ACTOR', 'CORRELATION'];

program
  .command('events')
  .description('List events of the log (the audit trail), oldest first; --follow keeps printing new ones')
  .option('-k, --kind <aggregate_type>', 'node, instance, image, network, subnet, port, security_group, router, floating_ip')
  .option('-i, --id <aggregate_id>', 'one resource (needs --kind)')
  .option('-a, --actor <actor>', 'who asked (x-actor, anonymous, system:<component>)')
  .option('-t, --type <type...>', 'event types, e.g. NodeRegistered')
  .option('--since <revision>', 'events after this log revision', (v) => BigInt(v))
  .option('--from <time>', 'events at or after this time (RFC 3339, or 15m / 2h / 3d ago)')
  .option('--to <time>', 'events before this time')
  .option('-n, --limit <n>', 'print at most this many', (v) => Number(v))
  .option('-f, --follow', 'after the last one, keep printing new events as they are committed')
  .option('--poll <ms>', 'how often --follow asks for new events', (v) => Number(v), 500)
  .action(async (o) => {
    const client = audit();
    const base: ListEventsRequest = {
      aggregateType: o.kind ?? '',
      aggregateId: o.id ?? '',
      actor: o.actor ?? '',
      sinceRevision: o.since ?? 0n,
      fromTime: o.from ? parseTime(o.from) : undefined,
      toTime: o.to ? parseTime(o.to) : undefined,
      types: o.type ?? [],
      pageSize: 100,
      pageToken: '',
    };
    let printed = 0;
    let headerDone = false;
    const print = (events: AuditEvent[]) => {
      if (json()) for (const e of events) console.log(JSON.stringify(AuditEvent.toJSON(e)));
      else if (events.length) {
        const t = table(EVENT_HEADER, events.map(eventRow)).split('\n');
        console.log((headerDone ? t.slice(1) : t).join('\n'));
        headerDone = true;
      }
    };
    let since = base.sinceRevision;
    for (;;) {
      let pageToken = '';
      do {
        const r = await unary<ListEventsRequest, ListEventsResponse>(client, client.listEvents, { ...base, sinceRevision: since, pageToken });
        const take = o.limit !== undefined ? r.events.slice(0, Math.max(0, o.limit - printed)) : r.events;
        print(take);
        printed += take.length;
        if (r.events.length) { const last = r.events[r.events.length - 1].revision; if (last > since) since = last; }
        if (o.limit !== undefined && printed >= o.limit) return client.close();
        pageToken = r.nextPageToken;
        // A commit is visible whole or not at all, so resuming after its revision loses nothing.
        if (pageToken === '' && r.events.length) since = r.events[r.events.length - 1].revision;
      } while (pageToken);
      if (!o.follow) break;
      await new Promise((r) => setTimeout(r, o.poll));
    }
    if (!json() && printed === 0) console.error('no events');
    client.close();
  });

program
  .command('state')
  .description('Show a resource as it was at a revision or a time (now without --at)')
  .argument('<kind>', 'node, instance, image, network, subnet, port, security_group, router, floating_ip')
  .argument('<id>', 'the resource id')
  .option('--at <time|revision>', 'a log revision (digits), a time (RFC 3339) or a duration ago (15m)')
  .action(async (kind: string, id: string, o) => {
    const client = audit();
    const at = o.at ? parseAt(o.at) : {};
    const s = await unary<GetStateAtRequest, StateAt>(client, client.getStateAt, { aggregateType: kind, aggregateId: id, ...at });
    client.close();
    if (json()) {
      console.log(JSON.stringify({ aggregateType: s.aggregateType, aggregateId: s.aggregateId, exists: s.exists, revision: s.revision.toString(), time: s.time?.toISOString(), state: s.state ?? null }, null, 2));
      return;
    }
    console.log(table(['KIND', 'ID', 'EXISTS', 'REVISION', 'TIME'], [[s.aggregateType, s.aggregateId, String(s.exists), String(s.revision), s.time?.toISOString() ?? '']]));
    if (s.state) console.log(`\n${JSON.stringify(s.state, null, 2)}`);
    else if (s.revision === 0n) console.log('\n(not created yet at that point)');
    else console.log('\n(deleted at that point)');
  });

program
  .command('verify')
  .description('Rebuild every read model from log position zero and compare it with what the server serves; exit 1 at a difference')
  .addOption(new Option('--nats-url <url>', 'NATS of the control plane').default('nats://127.0.0.1:4222').env('HV_NATS_URL'))
  .addOption(new Option('--event-store <url>', 'the event store, if not the JetStream log on that NATS (esdb://…)').env('HV_EVENT_STORE'))
  .action(async (o) => {
    const nc = await connect({ servers: o.natsUrl });
    const store = await openEventStore(o.eventStore, nc);
    try {
      const r = await replayCheck({ store, address: program.opts().server });
      if (json()) console.log(JSON.stringify(r, null, 2));
      else if (r.ok) console.log(`ok: ${Object.entries(r.compared).map(([m, n]) => `${m} (${n})`).join(', ')} rebuilt to revision ${r.position} match the server`);
      else {
        console.error(`first difference: ${r.differences[0]}`);
        if (r.differences.length > 1) console.error(`(${r.differences.length - 1} more)`);
      }
      process.exitCode = r.ok ? 0 : 1;
    } finally {
      await store.close();
      await nc.close();
    }
  });

program.parseAsync().catch((e: unknown) => {
  const err = e as ServiceError;
  if (typeof err?.code === 'number' && err.details !== undefined) {
    console.error(`error: ${status[err.code] ?? err.code}: ${err.details}`);
  } else console.error(`error: ${(e as Error)?.message ?? e}`);
  process.exit(1);
});
