import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { toAuditEvent } from '../audit/audit-event';
import type { AuditLog } from '../audit/audit-log';
import type { AuditServiceServer, StateAt } from '../gen/hypervisor/audit/v1/audit';
import { pageSize } from './paging';
import { unary } from '../shared/grpc-unary';
import { fromInt64, revision } from '../wire/int64';
import { InvalidArgument } from '../errors';

export interface AuditServiceDeps {
  readonly audit: AuditLog;
  readonly log: Logger;
}

/** A Timestamp a Date cannot hold (beyond ±8.64e15 ms, 275,760 years) is refused rather than compared as NaN. */
const validTime = (field: string, t: Date | undefined): Date | undefined => {
  if (t && Number.isNaN(t.getTime())) throw new InvalidArgument(`${field}: out of range (a time between the years -271821 and 275760)`);
  return t;
};

/** hypervisor.audit.v1.AuditService: the event log as the audit trail. */
export const auditService = (d: AuditServiceDeps): AuditServiceServer & UntypedServiceImplementation => ({
  listEvents: unary(d.log, 'ListEvents', async (req) => {
    const page = await d.audit.listEvents({
      aggregateType: req.aggregateType,
      aggregateId: req.aggregateId,
      actor: req.actor,
      sinceRevision: fromInt64(req.sinceRevision, 'since_revision'),
      fromTime: validTime('from_time', req.fromTime),
      toTime: validTime('to_time', req.toTime),
      types: req.types,
      pageSize: pageSize(req.pageSize),
      pageToken: req.pageToken,
    });
    return { events: page.events.map(toAuditEvent), nextPageToken: page.nextPageToken };
  }),

  getStateAt: unary(d.log, 'GetStateAt', async (req): Promise<StateAt> => {
    const s = await d.audit.stateAt({
      aggregateType: req.aggregateType,
      aggregateId: req.aggregateId,
      revision: req.revision === undefined ? undefined : fromInt64(req.revision, 'revision'),
      time: validTime('time', req.time),
    });
    return {
      aggregateType: s.aggregateType,
      aggregateId: s.aggregateId,
      exists: s.exists,
      revision: revision(s.revision),
      time: s.time,
      state: s.state,
    };
  }),
});
