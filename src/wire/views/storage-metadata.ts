import { REASON_ANNOTATION } from '../../domain/annotations';
import type { Metadata } from '../../gen/hypervisor/v1/common';

/**
 * A volume's or snapshot's metadata: the published messages have no field for
 * why one is in ERROR, so the agent's reason travels as the annotation
 * hypervisor.reason, next to the user's own.
 */
export const storageMetadata = (s: { labels?: Record<string, string>; annotations?: Record<string, string>; reason?: string }): Metadata => ({
  labels: s.labels ?? {},
  annotations: s.reason ? { ...s.annotations, [REASON_ANNOTATION]: s.reason } : { ...s.annotations },
});
