import type { Resources } from '../domain/resources';
import type { OptionValues } from '../options/option';
import { fromEnvironment } from '../options/read';
import { agentOptions } from '../options/table';

/** Everything hypervisor-agent can be told, by flag or environment (src/options/table.ts). */
export type AgentOptions = OptionValues<typeof agentOptions>;

export interface AgentConfig extends AgentOptions {
  /** Overrides what the host reports (a hollow node says what it simulates); --cpus and --memory-mib set it. */
  readonly capacity?: Partial<Resources>;
}

/** What --cpus and --memory-mib offer instead of the host's own figures. */
export const capacityOf = (o: Pick<AgentOptions, 'cpus' | 'memoryMib'>): Partial<Resources> => ({
  ...(o.cpus ? { cpuCores: o.cpus } : {}),
  ...(o.memoryMib ? { memoryBytes: o.memoryMib * 2 ** 20 } : {}),
});

/** The config from the environment and the defaults alone. */
export const defaultAgentConfig = (): AgentConfig => fromEnvironment(agentOptions);
