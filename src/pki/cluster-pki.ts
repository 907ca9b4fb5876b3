import os from 'node:os';
import path from 'node:path';
import { type ClusterCa, ensureCa } from './cluster-ca';
import { type EnsuredPair, ensurePair } from './key-pair';

/** The identity of the local operator's certificate (`<data-dir>/pki/admin.crt`). */
export const LOCAL_ADMIN = 'local:admin';
/** The common name of the server's own certificate: not an identity any call is made as. */
export const SERVER_NAME = 'hypervisor-server';

const SERVER_DAYS = 365;
const ADMIN_DAYS = 365;

export interface PkiOptions {
  readonly dataDir: string;
  /** The operator's own CA, both or neither. */
  readonly caCertFile?: string;
  readonly caKeyFile?: string;
  /** Names and addresses the server certificate holds besides localhost, 127.0.0.1 and the host name. */
  readonly sans: readonly string[];
}

export interface ClusterPki {
  readonly dir: string;
  readonly ca: ClusterCa;
  readonly server: EnsuredPair;
  readonly admin: EnsuredPair;
  /** This host's node certificate (`node:<host name>`), for the agent the server runs in its own process. */
  readonly node: EnsuredPair;
  /** The web console's, for its calls to this server's gRPC on behalf of browser sessions. */
  readonly console: EnsuredPair;
  /** `system:control-plane`: the only identity agents' AgentService accepts (console, stats, instance calls). */
  readonly controlPlane: EnsuredPair;
}

/** The client identity the server calls agents with. */
export const CONTROL_PLANE = 'system:control-plane';

const WILDCARD = new Set(['', '0.0.0.0', '::']);

/** The server certificate's names: loopback, the host name, and every given one (wildcard listen addresses left out). */
export const serverSans = (extra: readonly string[]): string[] => [...new Set(['localhost', '127.0.0.1', os.hostname(), ...extra.filter((s) => !WILDCARD.has(s))])];

/**
 * `<data-dir>/pki`: the cluster CA (made at the first start unless the
 * operator brings one), the server's certificate (renewed at start when a
 * third of its life is left) and the local administrator's (admin.crt,
 * admin.key), which hvctl on this host uses by default.
 */
export const ensureClusterPki = async (o: PkiOptions): Promise<ClusterPki> => {
  if (!!o.caCertFile !== !!o.caKeyFile) throw new Error('--tls-ca-cert and --tls-ca-key go together: give both or neither');
  const dir = path.join(o.dataDir, 'pki');
  const ca = await ensureCa(dir, o.caCertFile && o.caKeyFile ? { certFile: o.caCertFile, keyFile: o.caKeyFile } : undefined);
  const file = (n: string) => path.join(dir, n);
  const server = await ensurePair(ca, { certFile: file('server.crt'), keyFile: file('server.key') }, { commonName: SERVER_NAME, usage: 'server', days: SERVER_DAYS, sans: serverSans(o.sans) });
  const admin = await ensurePair(ca, { certFile: file('admin.crt'), keyFile: file('admin.key') }, { commonName: LOCAL_ADMIN, usage: 'client', days: ADMIN_DAYS });
  const node = await ensurePair(ca, { certFile: file('node.crt'), keyFile: file('node.key') }, { commonName: `node:${os.hostname()}`, usage: 'node', days: ADMIN_DAYS });
  const console = await ensurePair(ca, { certFile: file('console.crt'), keyFile: file('console.key') }, { commonName: 'system:web-console', usage: 'client', days: ADMIN_DAYS });
  const controlPlane = await ensurePair(ca, { certFile: file('control-plane.crt'), keyFile: file('control-plane.key') }, { commonName: CONTROL_PLANE, usage: 'client', days: ADMIN_DAYS });
  return { dir, ca, server, admin, node, console, controlPlane };
};
