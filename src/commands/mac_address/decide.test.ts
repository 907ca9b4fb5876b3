import { AlreadyExists, InvalidArgument } from '../../errors';
import { deciderSpec } from '../testing';
import type { MacAddressEvent } from './events';
import { macAddressDecider, macAddressId } from './index';

const MAC = '02:00:5e:10:00:01';
const given = deciderSpec(macAddressDecider, macAddressId(MAC));
const reserved = (portId: string): MacAddressEvent => ({ type: 'MacReserved', data: { mac: MAC, portId } });

describe('mac_address decider', () => {
  it('reserves a free address for a port, canonicalised', () =>
    given([]).when({ type: 'ReserveMac', data: { mac: '02-00-5E-10-00-01', portId: 'p-1' } }).then([reserved('p-1')]));
  it('adds nothing when the same port asks again', () =>
    given([reserved('p-1')]).when({ type: 'ReserveMac', data: { mac: MAC, portId: 'p-1' } }).then([]));
  it('keeps MACs unique: ALREADY_EXISTS for another port', () =>
    given([reserved('p-1')]).when({ type: 'ReserveMac', data: { mac: MAC, portId: 'p-2' } })
      .thenThrows(AlreadyExists, /mac_address: 02:00:5e:10:00:01 is in use by port p-1/));
  it('refuses MACs that are not locally administered unicast', () => {
    const other = '00:00:5e:10:00:01';
    deciderSpec(macAddressDecider, macAddressId(other))([]).when({ type: 'ReserveMac', data: { mac: other, portId: 'p-1' } })
      .thenThrows(InvalidArgument, /not locally administered/);
  });
  it('refuses a MAC sent to another address\'s aggregate', () =>
    given([]).when({ type: 'ReserveMac', data: { mac: '02:00:5e:10:00:02', portId: 'p-1' } }).thenThrows(InvalidArgument, /belongs to aggregate 02-00-5e-10-00-02/));
  it('is released only by its holder, once, and can then be taken again', () => {
    const released: MacAddressEvent = { type: 'MacReleased', data: { mac: MAC, portId: 'p-1' } };
    given([reserved('p-1')]).when({ type: 'ReleaseMac', data: { portId: 'p-1' } }).then([released]);
    given([reserved('p-1')]).when({ type: 'ReleaseMac', data: { portId: 'p-2' } }).then([]);
    given([reserved('p-1'), released]).when({ type: 'ReleaseMac', data: { portId: 'p-1' } }).then([]);
    given([reserved('p-1'), released]).when({ type: 'ReserveMac', data: { mac: MAC, portId: 'p-2' } }).then([reserved('p-2')]);
  });
});
