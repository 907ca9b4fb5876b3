/** Commands for one aggregate type travel on `hv.cmd.<aggregateType>`. */
export const commandSubject = (aggregateType: string) => `hv.cmd.${aggregateType}`;
/** Every server process joins this queue group, so each command is handled once. */
export const COMMAND_QUEUE = 'hv-command-handlers';
