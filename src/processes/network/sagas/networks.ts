import type { Origin } from '../../../bus/dispatcher';
import type { NetworkSpec } from '../../../commands/network';
import { NETWORK_POOL_ID, segmentOf } from '../../../commands/network_pool';
import { ownerKey } from '../reservations';
import type { SagaContext } from './context';

export class NetworkSagas {
  constructor(private readonly c: SagaContext) {}

  /** network_pool ReserveSegment → network CreateNetwork; undo: ReleaseSegment. vni/vlanId 0: the lowest free one. */
  async create(o: Origin, id: string, spec: NetworkSpec): Promise<void> {
    if (this.c.models.networks.state(id)?.status === 'active') return; // a retried request
    await this.c.create(o, ownerKey('network', id), async (saga) => {
      let { vni, vlanId } = spec;
      if (spec.kind === 'vxlan' || spec.kind === 'vlan') {
        const requested = spec.kind === 'vxlan' ? vni : vlanId;
        await saga.step(
          'reserve-segment',
          'network_pool',
          NETWORK_POOL_ID,
          { type: 'ReserveSegment', data: { networkId: id, kind: spec.kind, segmentId: requested } },
          { type: 'ReleaseSegment', data: { networkId: id } },
        );
        const seg = segmentOf(this.c.models.poolState(), id);
        if (!seg) throw new Error(`network_pool holds no segment for network ${id} after reserving one`);
        if (spec.kind === 'vxlan') vni = seg.segmentId;
        else vlanId = seg.segmentId;
      }
      await saga.step('create-network', 'network', id, { type: 'CreateNetwork', data: { ...spec, vni, vlanId } });
    });
  }

  /** network DeleteNetwork (refused with subnets or ports) → release its segment. */
  delete(o: Origin, id: string): Promise<void> {
    return this.c.end(o, ownerKey('network', id), [{ name: 'delete-network', aggregateType: 'network', aggregateId: id, command: { type: 'DeleteNetwork', data: {} } }]);
  }
}
