/**
 * One aggregate per MAC address (id: the MAC with dashes, `02-00-5e-10-00-01`).
 * MACs must be unique across all ports; a single global registry would make
 * every CreatePort contend on one stream. A stream per address is just as
 * exact (two ports claiming one MAC append to the same stream, one wins) and
 * never contends between different addresses.
 */
export interface MacAddressState {
  readonly id: string;
  /** The port holding the address; '' when free. */
  readonly portId: string;
  readonly since?: Date;
}

export const initialState = (id: string): MacAddressState => ({ id, portId: '' });

/** The aggregate id of a (canonical) MAC address. */
export const macAddressId = (mac: string): string => mac.toLowerCase().replace(/:/g, '-');
