export type MacAddressEvent =
  | { type: 'MacReserved'; data: { mac: string; portId: string } }
  | { type: 'MacReleased'; data: { mac: string; portId: string } };
