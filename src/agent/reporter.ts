import type { Logger } from 'pino';
import type { CommandBus } from '../bus/command-bus';
import type { Command } from '../commands/command';
import type { InstanceCommand } from '../commands/instance';
import { Code, DomainError } from '../errors';

/**
 * Outcomes go back as commands on the bus, like any other. Each has a
 * stable id (instance, generation, outcome), so a report repeated after an
 * agent restart adds nothing. A refusal (the instance is gone, or moved on)
 * is an answer too: the work is over.
 */
export class Reporter {
  constructor(
    private readonly bus: CommandBus,
    private readonly actor: string,
    private readonly log: Logger,
  ) {}

  async instance(instanceId: string, generation: number, correlationId: string, command: InstanceCommand & { type: `Report${string}` }): Promise<void> {
    const outcome = command.type.replace(/^ReportInstance/, '').toLowerCase();
    await this.send(`agent:${instanceId}:${generation}:${outcome}`, 'instance', instanceId, command, correlationId);
  }

  /** Resolves with the log position of the commit (undefined when the control plane declined the report). */
  async send(commandId: string, aggregateType: string, aggregateId: string, command: Command, correlationId: string): Promise<number | undefined> {
    try {
      const r = await this.bus.send({
        commandId,
        aggregateType,
        aggregateId,
        command,
        meta: { actor: this.actor, correlationId, causationId: commandId },
      });
      this.log.debug({ commandId, events: r.events }, 'reported');
      return r.position;
    } catch (e) {
      if (e instanceof DomainError && (e.code === Code.NOT_FOUND || e.code === Code.FAILED_PRECONDITION || e.code === Code.INVALID_ARGUMENT || e.code === Code.PERMISSION_DENIED)) {
        this.log.info({ commandId, reason: e.message }, 'the control plane declined the report');
        return undefined;
      }
      throw e;
    }
  }
}
