import { SortedMap } from '../../domain/ipam/sorted-map';
import type { Lifecycle } from '../network/fields';
import type { SecurityRule } from '../../domain/security-rule';

export type { Direction, EtherType, SecurityRule } from '../../domain/security-rule';

export interface SecurityGroupState {
  readonly id: string;
  readonly status: Lifecycle;
  readonly name: string;
  readonly description: string;
  readonly tenantId: string;
  readonly rules: SecurityRule[];
  /**
   * Ports using the group, attached here before the port is created: the
   * group sees every attachment on its own stream, so "no delete while a port
   * uses it" is exact.
   */
  readonly ports: SortedMap<string, true>;
  readonly createdAt?: Date;
  readonly updatedAt?: Date;
}

export const initialState = (id: string): SecurityGroupState => ({
  id,
  status: 'absent',
  name: '',
  description: '',
  tenantId: '',
  rules: [],
  ports: SortedMap.empty(),
});
