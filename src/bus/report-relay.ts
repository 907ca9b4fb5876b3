import type { NatsConnection, Subscription } from 'nats';
import type { Logger } from 'pino';
import { authorizeReport, type Placement } from '../authz/node-rules';
import { PermissionDenied } from '../errors';
import type { CommandBus } from './command-bus';
import type { CommandEnvelope } from './envelope';
import { REPORT_SUBJECTS } from './subjects';
import { decode, encode, errorReply, okReply } from './wire';

/** Handles the reports nodes send: one server process each (a queue group). */
const RELAY_QUEUE = 'hv-report-relay';

/**
 * Nodes report on `hv.report.<nodeId>.<aggregateType>`, where NATS lets only
 * that node publish. Each report is authorized (node-rules.ts: only what is
 * placed on that node) and, if allowed, sent on as a command whose actor is
 * the node; the node gets the command's reply either way.
 */
export class ReportRelay {
  private sub?: Subscription;

  constructor(
    private readonly nc: NatsConnection,
    private readonly bus: CommandBus,
    private readonly placement: Placement,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.sub = this.nc.subscribe(REPORT_SUBJECTS, {
      queue: RELAY_QUEUE,
      callback: (err, msg) => {
        if (err) return;
        void this.relay(msg.subject, msg.data).then((reply) => msg.reply && msg.respond(encode(reply)));
      },
    });
  }

  private async relay(subject: string, data: Uint8Array) {
    try {
      const [, , nodeId, aggregateType] = subject.split('.');
      const env = decode<CommandEnvelope>(data);
      const hostname = this.placement.hostnameOf(nodeId);
      if (!hostname) throw new PermissionDenied(`${subject}: node ${nodeId} is not registered`);
      const identity = { name: `node:${hostname}`, role: 'node' as const };
      if (env.aggregateType !== aggregateType) throw new PermissionDenied(`${subject}: the report is about ${env.aggregateType}, not ${aggregateType}`);
      const d = authorizeReport(identity, env, this.placement);
      if (!d.allow) {
        this.log.warn({ node: identity.name, command: env.command?.type, aggregateId: env.aggregateId, reason: d.message }, 'refused a report');
        throw new PermissionDenied(d.message);
      }
      return okReply(await this.bus.send({ ...env, meta: { ...env.meta, actor: identity.name } }));
    } catch (e) {
      return errorReply(e);
    }
  }

  stop(): void {
    this.sub?.unsubscribe();
  }
}
