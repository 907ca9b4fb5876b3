import { AlreadyExists, InvalidArgument } from '../../errors';
import { parseMac } from '../../domain/ipam/mac';
import { requireToken } from '../network/fields';
import type { MacAddressCommand } from './commands';
import type { MacAddressEvent } from './events';
import { macAddressId, type MacAddressState } from './state';

export const decide = (cmd: MacAddressCommand, s: MacAddressState): MacAddressEvent[] => {
  switch (cmd.type) {
    case 'ReserveMac': {
      const mac = parseMac('mac_address', cmd.data.mac);
      requireToken('port_id', cmd.data.portId);
      if (macAddressId(mac) !== s.id)
        throw new InvalidArgument(`mac_address: ${mac} belongs to aggregate ${macAddressId(mac)}, not ${s.id}`);
      if (s.portId === cmd.data.portId) return []; // redelivered
      if (s.portId) throw new AlreadyExists(`mac_address: ${mac} is in use by port ${s.portId}`);
      return [{ type: 'MacReserved', data: { mac, portId: cmd.data.portId } }];
    }
    case 'ReleaseMac':
      // Not the holder: released already (and perhaps taken by another port since).
      if (!s.portId || s.portId !== cmd.data.portId) return [];
      return [{ type: 'MacReleased', data: { mac: macOf(s), portId: s.portId } }];
    default:
      throw new InvalidArgument(`unknown mac_address command ${(cmd as { type: string }).type}`);
  }
};

export const macOf = (s: MacAddressState): string => s.id.replace(/-/g, ':');
