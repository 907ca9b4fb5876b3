import type { ListEventsRequest, ListEventsResponse } from '../gen/hypervisor/audit/v1/audit';
import type { Port } from '../gen/hypervisor/v1/network';
import { listAll } from '../client/api-client';
import type { Ctx } from './context';
import { column, type Kind } from './print';

/**
 * Why a port, router or floating IP is ERROR. Their messages have a status and
 * no field for the reason (the contract is fixed); the node's report is an
 * event (PortStatusReported, RouterStatusReported, FloatingIpStatusReported)
 * whose data holds it. The resource's updated_at is that report's time, so the
 * audit log is read from there: one short call per ERROR resource, none for the others.
 */
export const errorReasons = async (
  ctx: Ctx,
  aggregateType: string,
  eventType: string,
  items: readonly { id: string; status: string; updatedAt?: Date }[],
): Promise<Map<string, string>> => {
  const out = new Map<string, string>();
  await Promise.all(
    items
      .filter((p) => p.status === 'ERROR')
      .map(async (p) => {
        const reports = (fromTime: Date | undefined) =>
          listAll(async (pageToken) => {
            const r = await ctx.call<ListEventsRequest, ListEventsResponse>(ctx.audit, ctx.audit.listEvents, {
              aggregateType, aggregateId: p.id, actor: '', sinceRevision: 0n, fromTime, toTime: undefined,
              types: [eventType], pageSize: 100, pageToken,
            });
            return { items: r.events, next: r.nextPageToken };
          });
        // From its updated_at, else (a clock that rounds differently) its whole history.
        const recent = await reports(p.updatedAt);
        const events = recent.length ? recent : await reports(undefined);
        const reason = events.at(-1)?.data?.reason;
        if (typeof reason === 'string' && reason) out.set(p.id, reason);
      }),
  );
  return out;
};

export const portReasons = (ctx: Ctx, ports: readonly Port[]): Promise<Map<string, string>> => errorReasons(ctx, 'port', 'PortStatusReported', ports);

/** A table that gains a REASON column when one of its rows is ERROR (json and yaml stay the message as it is). */
export const explainedKind = async <T extends { id: string; status: string; updatedAt?: Date }>(ctx: Ctx, kind: Kind<T>, aggregateType: string, eventType: string, items: readonly T[]): Promise<Kind<T>> => {
  if (!ctx.printer.tabular) return kind;
  const reasons = await errorReasons(ctx, aggregateType, eventType, items);
  return reasons.size ? { ...kind, columns: [...kind.columns, column('REASON', (o: T) => reasons.get(o.id) ?? '')] } : kind;
};

/** The port table with a REASON column: what the node said when it reported the port ERROR. */
export const withReasons = (kind: Kind<Port>, reasons: ReadonlyMap<string, string>): Kind<Port> => ({
  ...kind,
  columns: [...kind.columns, column('REASON', (p) => reasons.get(p.id) ?? '')],
});
