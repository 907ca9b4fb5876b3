import type { Logger } from 'pino';
import type { CommandBus } from '../bus/command-bus';
import type { Command } from '../commands/command';
import type { InstanceCommand } from '../commands/instance';
import { Code, type CodeNumber, DomainError } from '../errors';

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
    const a = await this.answer(commandId, aggregateType, aggregateId, command, correlationId);
    return 'position' in a ? a.position : undefined;
  }

  /** The control plane's answer: the commit's log position, or why it declined the report. */
  async answer(commandId: string, aggregateType: string, aggregateId: string, command: Command, correlationId: string): Promise<ReportAnswer> {
    try {
      const r = await this.bus.send({
        commandId,
        aggregateType,
        aggregateId,
        command,
        meta: { actor: this.actor, correlationId, causationId: commandId },
      });
      this.log.debug({ commandId, events: r.events }, 'reported');
      return { position: r.position };
    } catch (e) {
      if (e instanceof DomainError && DECLINED.has(e.code)) {
        this.log.info({ commandId, reason: e.message }, 'the control plane declined the report');
        return { declined: e.code, reason: e.message };
      }
      throw e;
    }
  }
}

/** A report taken (its commit's log position), or declined with the code that says why. */
export type ReportAnswer = { readonly position: number } | { readonly declined: CodeNumber; readonly reason: string };

/**
 * The answers that end a report: the object is gone (NOT_FOUND), its state refuses it
 * (FAILED_PRECONDITION), it is not placed on this node (PERMISSION_DENIED), or it is malformed.
 * Anything else (UNAVAILABLE, a deadline) is retried by the caller.
 */
const DECLINED = new Set<CodeNumber>([Code.NOT_FOUND, Code.FAILED_PRECONDITION, Code.INVALID_ARGUMENT, Code.PERMISSION_DENIED]);
