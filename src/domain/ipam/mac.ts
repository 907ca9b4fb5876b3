import { clip } from '../validate';
import { InvalidArgument } from '../../errors';

const SHAPE = /^[0-9a-f]{2}([:-])[0-9a-f]{2}(\1[0-9a-f]{2}){4}$/i;

/**
 * A port's MAC address, canonical (lowercase, colons). Only locally
 * administered unicast addresses (second-lowest bit of the first octet set,
 * lowest clear, e.g. 02:…) are accepted: they can never collide with a
 * vendor's burnt-in address on the same segment, and a multicast source
 * address is not valid Ethernet.
 */
export const parseMac = (field: string, text: string): string => {
  if (!text) throw new InvalidArgument(`${field}: is required`);
  if (!SHAPE.test(text))
    throw new InvalidArgument(`${field}: "${clip(text)}" is not a MAC address (six hex octets, e.g. 02:00:5e:10:00:01)`);
  const mac = text.toLowerCase().replace(/-/g, ':');
  const first = parseInt(mac.slice(0, 2), 16);
  if (first & 1) throw new InvalidArgument(`${field}: ${mac} is a multicast address; a port needs a unicast one`);
  if (!(first & 2))
    throw new InvalidArgument(`${field}: ${mac} is not locally administered; use one whose first octet has bit 0x02 set (e.g. 02:…)`);
  return mac;
};

/**
 * A locally administered unicast MAC from six random bytes (the caller brings
 * the randomness; deciders have none).
 */
export const macFromBytes = (bytes: ArrayLike<number>): string => {
  if (bytes.length < 6) throw new RangeError('macFromBytes needs 6 bytes');
  const b = Array.from({ length: 6 }, (_, i) => bytes[i] & 0xff);
  b[0] = (b[0] & 0xfc) | 0x02;
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
};
