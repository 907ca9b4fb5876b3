import { InvalidArgument } from '../../errors';
import type { StreamId } from '../event';

// Aggregate type and id become subject tokens, so they may not hold the
// characters NATS gives meaning to ('.', '*', '>', whitespace).
const TOKEN = /^[A-Za-z0-9_-]{1,128}$/;

export const streamSubject = (prefix: string, s: StreamId): string => {
  if (!TOKEN.test(s.aggregateType)) throw new InvalidArgument(`aggregate type "${s.aggregateType}" is not a valid name`);
  if (!TOKEN.test(s.aggregateId)) throw new InvalidArgument(`id "${s.aggregateId}" is not a valid id`);
  return `${prefix}.${s.aggregateType}.${s.aggregateId}`;
};
