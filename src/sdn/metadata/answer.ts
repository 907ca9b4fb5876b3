/**
 * What the metadata service tells one guest, in the two layouts cloud-init and
 * cloud tools ask for: EC2's (`/latest/meta-data/...`, `/latest/user-data`) and
 * OpenStack's (`/openstack/latest/meta_data.json`, `user_data`). Pure: the guest
 * was identified before (server.ts), by its port's address and MAC, never by
 * anything in the request.
 */

/** One guest as the agent writes it for the metadata service (guest-records.ts). */
export interface GuestRecord {
  readonly instanceId: string;
  readonly name: string;
  readonly hostname: string;
  /** Its ports: the service answers a connection only from one of these (address and MAC on the subnet it serves). */
  readonly ports: readonly { readonly subnetId: string; readonly ip: string; readonly mac: string }[];
  readonly userData?: string;
  readonly publicKeys: readonly string[];
}

export interface Answer {
  readonly status: number;
  readonly body: string;
  readonly type: 'text/plain' | 'application/json';
}

const text = (body: string, status = 200): Answer => ({ status, body, type: 'text/plain' });
const json = (v: unknown): Answer => ({ status: 200, body: JSON.stringify(v), type: 'application/json' });
export const NOT_FOUND: Answer = text('Not Found\n', 404);

// EC2 keeps dated versions; cloud-init's Ec2 datasource asks for one of these and for latest.
const EC2_VERSIONS = ['1.0', '2009-04-04', 'latest'];

/** The answer to a GET of `path` (no query) for guest g, asking from `ip`. */
export const answer = (path: string, g: GuestRecord, ip: string): Answer => {
  const parts = path.split('/').filter(Boolean);
  if (parts.length === 0) return text(`${EC2_VERSIONS.join('\n')}\nopenstack`);
  const [top, ...rest] = parts;
  if (top === 'openstack') return openstack(rest, g);
  if (!EC2_VERSIONS.includes(top)) return NOT_FOUND;
  if (rest.length === 0) return text(g.userData !== undefined ? 'meta-data/\nuser-data' : 'meta-data/');
  if (rest[0] === 'user-data' && rest.length === 1) return g.userData !== undefined ? text(g.userData) : NOT_FOUND;
  if (rest[0] !== 'meta-data') return NOT_FOUND;
  return ec2MetaData(rest.slice(1), g, ip, path.endsWith('/'));
};

const ec2MetaData = (p: string[], g: GuestRecord, ip: string, dir: boolean): Answer => {
  const leaves: Record<string, string> = {
    'instance-id': g.instanceId,
    hostname: g.hostname,
    'local-hostname': g.hostname,
    'local-ipv4': ip,
    'ami-launch-index': '0',
  };
  if (p.length === 0) return text([...Object.keys(leaves), ...(g.publicKeys.length ? ['public-keys/'] : [])].join('\n'));
  if (p.length === 1 && p[0] in leaves && !dir) return text(leaves[p[0]]);
  if (p[0] !== 'public-keys' || g.publicKeys.length === 0) return NOT_FOUND;
  // public-keys/ → "0=key-0"; public-keys/0/ → "openssh-key"; public-keys/0/openssh-key → the key.
  if (p.length === 1) return text(g.publicKeys.map((_, i) => `${i}=key-${i}`).join('\n'));
  const i = /^\d+$/.test(p[1]) ? Number(p[1]) : -1;
  if (i < 0 || i >= g.publicKeys.length) return NOT_FOUND;
  if (p.length === 2) return text('openssh-key');
  if (p.length === 3 && p[2] === 'openssh-key') return text(`${g.publicKeys[i]}\n`);
  return NOT_FOUND;
};

const openstack = (p: string[], g: GuestRecord): Answer => {
  if (p.length === 0) return text('latest');
  if (p[0] !== 'latest') return NOT_FOUND;
  const files = ['meta_data.json', 'vendor_data.json', ...(g.userData !== undefined ? ['user_data'] : [])];
  if (p.length === 1) return text(files.join('\n'));
  if (p.length !== 2) return NOT_FOUND;
  switch (p[1]) {
    case 'meta_data.json':
      return json({
        uuid: g.instanceId,
        name: g.name,
        hostname: g.hostname,
        launch_index: 0,
        public_keys: Object.fromEntries(g.publicKeys.map((k, i) => [`key-${i}`, k])),
        keys: g.publicKeys.map((k, i) => ({ name: `key-${i}`, type: 'ssh', data: k })),
        meta: {},
      });
    case 'vendor_data.json':
      return json({});
    case 'user_data':
      return g.userData !== undefined ? text(g.userData) : NOT_FOUND;
    default:
      return NOT_FOUND;
  }
};
