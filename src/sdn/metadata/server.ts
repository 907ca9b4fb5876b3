import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '../../shared/atomic-file';
import http from 'node:http';
import path from 'node:path';
import { answer, type Answer, type GuestRecord } from './answer';

/** Where cloud-init's phone_home (the seed's vendor-data) posts: the guest's first boot is done. */
export const PHONE_HOME_PATH = '/hv/phone-home';

export interface MetadataServerOptions {
  /** The subnet this server's namespace is on: only its ports are answered. */
  readonly subnetId: string;
  /** The agent's guest records, one `<instance id>.json` each (0600). */
  readonly guestsDir: string;
  /** Where a phone-home is noted, `<instance id>.json`, for the agent to report. */
  readonly phoneHomeDir: string;
  /** This namespace's neighbour table (the kernel's, /proc/net/arp as read from inside it). */
  readonly arpTable?: () => string;
}

/** The MAC the kernel resolved for `ip` (complete entries only); the TCP handshake that brought the request made one. */
export const macFromArp = (table: string, ip: string): string | undefined => {
  for (const line of table.split('\n').slice(1)) {
    const [addr, , flags, mac] = line.trim().split(/\s+/);
    if (addr === ip && (Number(flags) & 0x2) !== 0) return mac.toLowerCase();
  }
  return undefined;
};

/** The guest whose port on this subnet has this address and MAC; the anti-spoofing filter holds a port to its address, the bridge to its MAC. */
export const identify = (guests: readonly GuestRecord[], subnetId: string, ip: string, mac: string | undefined): GuestRecord | undefined =>
  mac === undefined ? undefined : guests.find((g) => g.ports.some((p) => p.subnetId === subnetId && p.ip === ip && p.mac.toLowerCase() === mac));

const readGuests = (dir: string): GuestRecord[] => {
  let names: string[];
  try {
    names = readdirSync(dir).filter((f) => f.endsWith('.json'));
  } catch {
    return [];
  }
  const out: GuestRecord[] = [];
  for (const f of names) {
    try {
      out.push(JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as GuestRecord);
    } catch {
      // removed while read, or half a hand edit: not this guest's business
    }
  }
  return out;
};

/**
 * The metadata service of one subnet on this host, run inside the subnet's DHCP
 * namespace (metadata-servers.ts), listening on 169.254.169.254:80 there: it sees
 * the guest's true source address and the namespace's own neighbour table, so the
 * asker is identified by what the data plane holds it to, with no proxy header to
 * trust. It keeps nothing: every request reads the agent's records afresh.
 */
export function metadataServer(o: MetadataServerOptions, log: (line: Record<string, unknown>) => void = () => undefined): http.Server {
  const arp = o.arpTable ?? (() => readFileSync('/proc/net/arp', 'utf8'));
  return http.createServer((req, res) => {
    const ip = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    const guest = identify(readGuests(o.guestsDir), o.subnetId, ip, macFromArp(arp(), ip));
    const url = new URL(req.url ?? '/', 'http://169.254.169.254');
    let a: Answer;
    if (!guest) a = { status: 404, body: 'no instance of this host has that address on this network\n', type: 'text/plain' };
    else if (req.method === 'POST' && url.pathname === PHONE_HOME_PATH) a = phoneHome(o.phoneHomeDir, guest, o.subnetId);
    else if (req.method !== 'GET' && req.method !== 'HEAD') a = { status: 405, body: 'GET only\n', type: 'text/plain' };
    else a = answer(url.pathname, guest, ip);
    // Never the body: user-data and keys are the guest's.
    log({ method: req.method, path: url.pathname, ip, instanceId: guest?.instanceId, status: a.status });
    req.resume();
    res.writeHead(a.status, { 'Content-Type': a.type, 'Content-Length': Buffer.byteLength(a.body) });
    res.end(req.method === 'HEAD' ? undefined : a.body);
  });
}

/** The note of a guest's phone-home that the agent reports (GuestRecords.phonedHome reads it). */
export const notePhoneHome = (dir: string, instanceId: string, subnetId: string, at = new Date()): void => {
  mkdirSync(dir, { recursive: true });
  writeFileAtomic(path.join(dir, `${instanceId}.json`), JSON.stringify({ instanceId, subnetId, at: at.toISOString() }), { mode: 0o600 });
};

const phoneHome = (dir: string, g: GuestRecord, subnetId: string): Answer => {
  notePhoneHome(dir, g.instanceId, subnetId);
  return { status: 200, body: 'ok\n', type: 'text/plain' };
};
