export type MacAddressCommand =
  /** Before CreatePort: claim the port's MAC (send it to the aggregate macAddressId(mac)). */
  | { type: 'ReserveMac'; data: { mac: string; portId: string } }
  /** After DeletePort, or to undo a reservation; only the holder releases. */
  | { type: 'ReleaseMac'; data: { portId: string } };
