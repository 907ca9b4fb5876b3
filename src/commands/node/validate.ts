import { parseInstanceKind } from '../../domain/instance-types';
import {
  optionalTopology,
  requireHostname,
  requireIp,
  requireLabels,
  requirePort,
  requireResources,
} from '../../domain/validate';
import { InvalidArgument } from '../../errors';
import type { NodeDetails } from './commands';

/** Everything RegisterNode needs that does not depend on state. */
export const validateRegistration = (d: NodeDetails): void => {
  requireHostname('hostname', d.hostname);
  requireIp('ip', d.ip);
  requirePort('port', d.port);
  optionalTopology('region', d.region);
  optionalTopology('zone', d.zone);
  requireResources('capacity', d.capacity);
  requireLabels('metadata.labels', d.labels);
  requireLabels('metadata.annotations', d.annotations);
  if (d.supportedInstanceTypes.length === 0)
    throw new InvalidArgument('supported_instance_types: name at least one (vm, microvm, container)');
  d.supportedInstanceTypes.forEach((t, i) => parseInstanceKind(`supported_instance_types[${i}]`, t));
};
