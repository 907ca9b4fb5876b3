import { replicas } from './replicas';
import type { AuditEvent, ClusterInfo, Instance, Node, Volume } from './types';

/** A failed /ui/api call: the gRPC code by name and the server's message. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const newRequestId = (): string => (typeof crypto.randomUUID === 'function' ? crypto.randomUUID() : `ui-${Date.now()}-${Math.random().toString(36).slice(2)}`);

const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
  // One id per action: a retry of the same request cannot do it twice, on this replica or another.
  const headers: Record<string, string> = { accept: 'application/json', 'x-request-id': newRequestId() };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response | undefined;
  let host = location.host;
  // The page's own server first; when it cannot be reached, each other replica in turn, with the same request id.
  for (let tried = 0; !res && tried < replicas.count; tried++, host = replicas.after(host)) {
    try {
      res = await fetch(`${location.protocol}//${host}/ui/api${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      if (tried + 1 >= replicas.count) throw new ApiError('UNAVAILABLE', `the server cannot be reached (${(e as Error).message})`);
    }
  }
  const json = (await res!.json().catch(() => ({}))) as { code?: string; message?: string };
  if (!res!.ok) throw new ApiError(json.code ?? `HTTP ${res!.status}`, json.message ?? res!.statusText);
  return json as T;
};

const enc = encodeURIComponent;

export const api = {
  cluster: () => call<ClusterInfo>('GET', '/cluster'),
  nodes: () => call<{ nodes: Node[] }>('GET', '/nodes'),
  instance: (id: string) => call<Instance>('GET', `/instances/${enc(id)}`),
  history: (id: string) => call<{ events: AuditEvent[]; truncated: boolean }>('GET', `/instances/${enc(id)}/history`),
  start: (id: string) => call<Instance>('POST', `/instances/${enc(id)}/start`, {}),
  stop: (id: string, force = false) => call<Instance>('POST', `/instances/${enc(id)}/stop`, { force }),
  restart: (id: string, force = false) => call<Instance>('POST', `/instances/${enc(id)}/restart`, { force }),
  delete: (id: string) => call<Record<string, never>>('DELETE', `/instances/${enc(id)}`),
  volumes: (instanceId = '') => call<{ volumes: Volume[] }>('GET', `/volumes${instanceId ? `?instanceId=${enc(instanceId)}` : ''}`),
};

/** The console's WebSocket address, relative to the page (ws: or wss: as the page is served). */
export const consoleUrl = (id: string, cols: number, rows: number): string => {
  const u = new URL(`api/instances/${enc(id)}/console`, location.href);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.search = `?cols=${cols}&rows=${rows}`;
  u.hash = '';
  return u.toString();
};
