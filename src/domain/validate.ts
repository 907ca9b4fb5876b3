import ipaddr from 'ipaddr.js';
import { InvalidArgument } from '../errors';
import { NODE_RESOURCE_MAX, type Resources } from './resources';

// Small validators shared by every aggregate; each names the field it rejects.

const HOST_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;
const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const TOPOLOGY = /^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$/i;

export const requireHostname = (field: string, v: string): void => {
  if (!v) throw new InvalidArgument(`${field}: is required`);
  if (v.length > 253 || !v.split('.').every((l) => HOST_LABEL.test(l)))
    throw new InvalidArgument(`${field}: "${clip(v)}" is not a valid host name (RFC 1123 labels of letters, digits and '-')`);
};

export const requireIp = (field: string, v: string): void => {
  if (!v) throw new InvalidArgument(`${field}: is required`);
  if (!ipaddr.IPv4.isValidFourPartDecimal(v) && !ipaddr.IPv6.isValid(v))
    throw new InvalidArgument(`${field}: "${clip(v)}" is not an IPv4 or IPv6 address`);
};

export const requirePort = (field: string, v: number): void => {
  if (!Number.isInteger(v) || v < 1 || v > 65535) throw new InvalidArgument(`${field}: ${v} is not a port (1-65535)`);
};

export const optionalTopology = (field: string, v: string): void => {
  if (v && !TOPOLOGY.test(v)) throw new InvalidArgument(`${field}: "${clip(v)}" is not a valid name (letters, digits, '-', '.'; at most 63)`);
};

export const requireResources = (field: string, r: Resources): void => {
  for (const [k, v] of Object.entries(r)) {
    if (!Number.isSafeInteger(v)) throw new InvalidArgument(`${field}.${snake(k)}: ${v} is not a whole number`);
    if (v < 0) throw new InvalidArgument(`${field}.${snake(k)}: ${v} is negative`);
    const max = NODE_RESOURCE_MAX[k as keyof Resources];
    if (v > max) throw new InvalidArgument(`${field}.${snake(k)}: ${v} is more than one node can have (at most ${max})`);
  }
};

/**
 * Keys and values of labels or annotations: each value one line of at most 1,024 characters,
 * except the keys `multiLine` names (with their size in UTF-8 bytes), which may hold line
 * breaks and tabs (a cloud-config document, a list of SSH keys).
 */
export const requireLabels = (field: string, labels: Record<string, string>, multiLine: Readonly<Record<string, number>> = {}): void => {
  const entries = Object.entries(labels);
  if (entries.length > 64) throw new InvalidArgument(`${field}: ${entries.length} entries, at most 64`);
  for (const [k, v] of entries) {
    if (!LABEL_KEY.test(k) || k.length > 253) throw new InvalidArgument(`${field}: key "${clip(k)}" is not a valid label key`);
    const maxBytes = Object.hasOwn(multiLine, k) ? multiLine[k] : undefined;
    if (maxBytes === undefined && v.length > 1024) throw new InvalidArgument(`${field}["${k}"]: value is longer than 1024 characters`);
    if (maxBytes !== undefined && Buffer.byteLength(v) > maxBytes)
      throw new InvalidArgument(`${field}["${k}"]: value is ${Buffer.byteLength(v)} bytes, at most ${maxBytes} (${maxBytes / 1024} KiB)`);
    const bad = controlCharacter(maxBytes === undefined ? v : v.replace(LINE_BREAKS_AND_TABS, ''));
    if (bad !== undefined) throw new InvalidArgument(`${field}["${k}"]: value holds the control character U+${bad}; use printable text${maxBytes === undefined ? ' on one line' : ''}`);
  }
};

const LINE_BREAKS_AND_TABS = /[\n\r\t]/g;

// C0 controls, DEL and C1 controls: what a terminal or a log would act on rather than show.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** The first control character of `v` as 4 hex digits, if it has one. */
export const controlCharacter = (v: string): string | undefined => {
  const m = CONTROL.exec(v);
  return m ? m[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0') : undefined;
};

export const clip = (s: string, n = 64) => (s.length > n ? `${s.slice(0, n)}…` : s);
export const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
