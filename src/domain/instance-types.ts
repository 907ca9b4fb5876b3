import { InvalidArgument } from '../errors';

/** Kinds of instance, as nodes advertise them in supported_instance_types. */
export const INSTANCE_KINDS = ['vm', 'container', 'microvm'] as const;
export type InstanceKind = (typeof INSTANCE_KINDS)[number];

/** Accepts `vm`, `VM` or `INSTANCE_TYPE_VM`; answers the canonical short name. */
export const parseInstanceKind = (field: string, v: string): InstanceKind => {
  const k = v.toLowerCase().replace(/^instance_type_/, '');
  if ((INSTANCE_KINDS as readonly string[]).includes(k)) return k as InstanceKind;
  throw new InvalidArgument(`${field}: "${v}" is not an instance type (one of ${INSTANCE_KINDS.join(', ')})`);
};
