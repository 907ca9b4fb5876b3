import type { RecordedEvent } from '../eventstore/event';
import type { AuditEvent } from '../gen/hypervisor/audit/v1/audit';

/** An event of the log as the audit and the integration feed show it (already upcast). */
export const toAuditEvent = (e: RecordedEvent): AuditEvent => ({
  revision: BigInt(e.revision),
  id: e.id,
  type: e.type,
  aggregateType: e.aggregateType,
  aggregateId: e.aggregateId,
  time: e.time,
  actor: e.meta.actor,
  onBehalfOf: e.meta.onBehalfOf ?? '',
  correlationId: e.meta.correlationId,
  causationId: e.meta.causationId,
  schemaVersion: e.schemaVersion,
  // Struct holds objects only; an event without data shows {}.
  data: e.data !== null && typeof e.data === 'object' && !Array.isArray(e.data) ? (e.data as Record<string, unknown>) : {},
});
