/** Commands for one aggregate type travel on `hv.cmd.<aggregateType>`. */
export const commandSubject = (aggregateType: string) => `hv.cmd.${aggregateType}`;
/** Every server process joins this queue group, so each command is handled once. */
export const COMMAND_QUEUE = 'hv-command-handlers';
/**
 * A node's reports travel on `hv.report.<nodeId>.<aggregateType>`: NATS lets
 * only that node publish there, so the control plane knows who reports and
 * checks it against what is placed on the node before it becomes a command.
 */
export const reportPrefix = (nodeId: string) => `hv.report.${nodeId}`;
export const reportSubject = (nodeId: string, aggregateType: string) => `${reportPrefix(nodeId)}.${aggregateType}`;
export const REPORT_SUBJECTS = 'hv.report.*.*';
