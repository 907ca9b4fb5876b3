import { credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { DomainError, Unavailable } from '../../errors';
import { AgentServiceClient } from '../../gen/hypervisor/v1/agent';
import { tlsTarget } from '../../shared/tls-target';

/** The control plane's client identity toward agents (`system:control-plane`), and the CA their node certificates chain to. */
export interface AgentTls {
  readonly ca: Buffer;
  readonly key: Buffer;
  readonly cert: Buffer;
}

/** The node an agent serves, as the client needs it: where, who, and whether it speaks TLS. */
export interface AgentNode {
  readonly address: string;
  readonly hostname: string;
  readonly tls: boolean;
}

/**
 * One AgentService client per agent, made on first use. An agent with a
 * node certificate is reached over TLS with the control plane's own
 * certificate, and must present `node:<its host name>` (not a name in its
 * certificate's SANs: agents are known by identity, not address).
 */
export class AgentClients {
  private readonly clients = new Map<string, AgentServiceClient>();
  private tls?: AgentTls;

  /** Set once the cluster PKI is known. */
  identity(tls: AgentTls): void {
    this.tls = tls;
  }

  get(node: AgentNode): AgentServiceClient {
    const key = `${node.tls ? 'tls' : 'plain'}/${node.hostname}/${node.address}`;
    let c = this.clients.get(key);
    if (!c) {
      if (node.tls && !this.tls) throw new Unavailable(`the agent of node ${node.hostname} serves TLS, and this server has no client certificate for agents`);
      const expected = `node:${node.hostname}`;
      // An agent is known by its node certificate's name, whatever address it is reached at.
      const target = tlsTarget(node.address, (_host, cert) => (cert.subject?.CN === expected ? undefined : new Error(`the agent at ${node.address} is ${cert.subject?.CN}, not ${expected}`)));
      const tls = node.tls && this.tls;
      const creds = tls ? credentials.createSsl(tls.ca, tls.key, tls.cert, { checkServerIdentity: target.checkServerIdentity }) : credentials.createInsecure();
      c = new AgentServiceClient(node.address, creds, {
        ...(tls ? target.channelOptions : {}),
        'grpc.keepalive_time_ms': 30_000,
        'grpc.initial_reconnect_backoff_ms': 200,
        'grpc.max_reconnect_backoff_ms': 2_000,
      });
      this.clients.set(key, c);
    }
    return c;
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}

/** The instance the agent should act on travels in metadata for the console stream (its first message has no room for it). */
export const instanceMetadata = (instanceId: string): Metadata => {
  const md = new Metadata();
  md.set('x-instance-id', instanceId);
  return md;
};

/**
 * An agent's answer as a DomainError: its own status passes through (it says
 * what is wrong with the instance); not reaching it is UNAVAILABLE, naming
 * the node and address.
 */
export const fromAgent = (e: unknown, where: string): DomainError => {
  const se = e as ServiceError;
  if (se?.code === status.UNAVAILABLE || se?.code === status.DEADLINE_EXCEEDED)
    return new Unavailable(`the agent of ${where} is unreachable (${se.details || se.message}); is hypervisor-agent running there?`);
  if (typeof se?.code === 'number' && se.code !== status.UNKNOWN && se.code !== status.INTERNAL)
    return new DomainError(se.code as DomainError['code'], `${where}: ${se.details}`);
  return new Unavailable(`the agent of ${where} failed: ${se?.details ?? String(e)}`);
};
