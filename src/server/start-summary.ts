import { loopbackTarget } from '../http/ui/grpc-gateway';

/** host:port a client on this machine reaches a listener on `host` at (0.0.0.0: loopback). */
export const reachableAt = loopbackTarget;

/** What a person starting the server wants to know once it is up: where to go, in words. */
export interface StartFacts {
  /** host:port a client on this machine reaches gRPC at. */
  readonly grpc: string;
  /** The web console's URL, when it is served. */
  readonly ui?: string;
  readonly http: string;
  readonly nats: string;
  /** The embedded agent's node, when one runs here. */
  readonly agent?: { readonly hostname: string; readonly kinds: readonly string[]; readonly accel?: { readonly status: string; readonly reason: string } };
}

/** The lines of the start summary (pure: the server's main prints them). */
export const startSummary = (f: StartFacts): string[] => {
  const lines = [
    'hypervisor is ready',
    `  gRPC           ${f.grpc}  (reflection and grpc.health.v1)`,
    ...(f.ui ? [`  web console    ${f.ui}`] : []),
    `  HTTP           http://${f.http}/  (/healthz /readyz /metrics)`,
    `  NATS           ${f.nats}`,
  ];
  if (f.agent) {
    lines.push(`  this host      node ${f.agent.hostname}, runs ${f.agent.kinds.join(', ')}`);
    if (f.agent.accel) lines.push(`  accelerator    ${f.agent.accel.status} (${f.agent.accel.reason})`);
  } else {
    lines.push('  this host      no agent here: hosts run hypervisor-agent');
  }
  lines.push(
    'try next',
    "  alias hvctl='node dist/src/cli/hvctl.js'",
    '  hvctl cluster info && hvctl node list',
    ...(f.ui ? [`  open ${f.ui}`] : []),
    '  README: Compute (a VM and its console), Networking; Ctrl-C stops everything',
  );
  return lines;
};
