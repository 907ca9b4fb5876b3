import type { Ctx } from './context';
import { CliError, EXIT } from './exit';
import { fipRef } from './floating-ip';
import { instanceRef } from './instance-read';
import { networkRef } from './network';
import { nodeRef } from './node';
import { portRef } from './port';
import { routerRef } from './router';
import { sgRef } from './security-group';
import { subnetRef } from './subnet';

/** Each aggregate type's "id or name" resolver: the audit verbs take names wherever the resource verbs do. */
const REFS: Record<string, (ctx: Ctx, ref: string) => Promise<string>> = {
  node: nodeRef,
  instance: instanceRef,
  network: networkRef,
  subnet: subnetRef,
  port: portRef,
  security_group: sgRef,
  router: routerRef,
  floating_ip: fipRef,
};

/**
 * The id of `ref` (an id, or a name exactly one resource of `kind` has now).
 * A kind without names here (image, and kinds this hvctl does not know) takes
 * the id as given; a resource deleted since is found by its id only.
 */
export const aggregateId = async (ctx: Ctx, kind: string, ref: string): Promise<string> => {
  if (!ref) return ref;
  if (!kind) throw new CliError('INVALID_ARGUMENT: --id: needs --kind (node, instance, network, …)', EXIT.INVALID_ARGUMENT);
  const resolve = REFS[kind];
  return resolve ? resolve(ctx, ref) : ref;
};
