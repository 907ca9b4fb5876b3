import type { Origin } from '../../../bus/dispatcher';
import { resolveSubnet, type SubnetRequest } from '../../../commands/subnet';
import { ownerKey } from '../reservations';
import type { SagaContext } from './context';

export class SubnetSagas {
  constructor(private readonly c: SagaContext) {}

  /** resolveSubnet → network AddSubnet (CIDR overlap) → subnet CreateSubnet; undo: RemoveSubnet. */
  async create(o: Origin, id: string, req: SubnetRequest): Promise<void> {
    if (this.c.models.subnets.state(id)?.status === 'active') return;
    const { cidr } = resolveSubnet(req);
    await this.c.create(o, ownerKey('subnet', id), async (saga) => {
      await saga.step('add-subnet', 'network', req.networkId, { type: 'AddSubnet', data: { subnetId: id, cidr } }, { type: 'RemoveSubnet', data: { subnetId: id } });
      await saga.step('create-subnet', 'subnet', id, { type: 'CreateSubnet', data: req });
    });
  }

  /** subnet DeleteSubnet (refused with allocations) → network RemoveSubnet. */
  delete(o: Origin, id: string): Promise<void> {
    return this.c.end(o, ownerKey('subnet', id), [{ name: 'delete-subnet', aggregateType: 'subnet', aggregateId: id, command: { type: 'DeleteSubnet', data: {} } }]);
  }
}
