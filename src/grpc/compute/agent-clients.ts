import { credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { DomainError, Unavailable } from '../../errors';
import { AgentServiceClient } from '../../gen/hypervisor/v1/agent';

/** One AgentService client per agent address, made on first use. */
export class AgentClients {
  private readonly clients = new Map<string, AgentServiceClient>();

  get(address: string): AgentServiceClient {
    let c = this.clients.get(address);
    if (!c) {
      c = new AgentServiceClient(address, credentials.createInsecure(), {
        'grpc.keepalive_time_ms': 30_000,
        'grpc.initial_reconnect_backoff_ms': 200,
        'grpc.max_reconnect_backoff_ms': 2_000,
      });
      this.clients.set(address, c);
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
