export * from './address';
export * from './allocate';
export * from './cidr';
export * from './mac';
export * from './pools';
export * from './sorted-map';
