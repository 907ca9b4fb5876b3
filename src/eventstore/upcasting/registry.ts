import { nodeUpcasters } from './node';
import { UpcasterChain } from './upcaster';

/**
 * The schema history of every event type. An aggregate whose event shape
 * changes adds its steps here (one line); the handler then writes the new
 * version and every reader (handler, projections, audit, feed) upcasts.
 */
export const UPCASTERS = new UpcasterChain([...nodeUpcasters]);
