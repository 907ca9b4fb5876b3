import type { ListEventsRequest, ListEventsResponse } from '../gen/hypervisor/audit/v1/audit';
import type { Port } from '../gen/hypervisor/v1/network';
import { listAll } from '../client/api-client';
import type { Ctx } from './context';
import { column, type Kind } from './print';

/**
 * Why a port is ERROR. The Port message has a status and no field for its
 * reason (the contract is fixed); the node's report of it is an event,
 * PortStatusReported, whose data holds the reason. The port's updated_at is
 * that report's time, so the audit log is read from there: one short call
 * per ERROR port, none for the others.
 */
export const portReasons = async (ctx: Ctx, ports: readonly Port[]): Promise<Map<string, string>> => {
  const out = new Map<string, string>();
  await Promise.all(
    ports
      .filter((p) => p.status === 'ERROR')
      .map(async (p) => {
        const reports = (fromTime: Date | undefined) =>
          listAll(async (pageToken) => {
            const r = await ctx.call<ListEventsRequest, ListEventsResponse>(ctx.audit, ctx.audit.listEvents, {
              aggregateType: 'port', aggregateId: p.id, actor: '', sinceRevision: 0n, fromTime, toTime: undefined,
              types: ['PortStatusReported'], pageSize: 100, pageToken,
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

/** The port table with a REASON column: what the node said when it reported the port ERROR. */
export const withReasons = (kind: Kind<Port>, reasons: ReadonlyMap<string, string>): Kind<Port> => ({
  ...kind,
  columns: [...kind.columns, column('REASON', (p) => reasons.get(p.id) ?? '')],
});
