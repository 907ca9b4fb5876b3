import { InvalidArgument, NotFound } from '../../errors';
import { HOSTNAME } from '../join_token/decide';
import type { NodeIdentityCommand } from './commands';
import type { NodeIdentityEvent } from './events';
import type { NodeIdentityState } from './state';

const SERIAL = /^[0-9a-f]{1,40}$/;

export const decide = (c: NodeIdentityCommand, s: NodeIdentityState): NodeIdentityEvent[] => {
  if (!HOSTNAME.test(s.id)) throw new InvalidArgument(`hostname: "${s.id}" is not a host name (letters, digits, '.', '-'; at most 63)`);
  switch (c.type) {
    case 'RecordNodeCertificate':
      if (!SERIAL.test(c.data.serial)) throw new InvalidArgument(`serial: "${c.data.serial}" is not lower-case hex`);
      if (s.certificates.some((x) => x.serial === c.data.serial)) return [];
      return [{ type: 'NodeCertificateIssued', data: { ...c.data } }];
    case 'RevokeNodeIdentity':
      if (!s.exists) throw new NotFound(`node identity node:${s.id} not found (it never joined)`);
      return s.revokedAt ? [] : [{ type: 'NodeIdentityRevoked', data: {} }];
  }
};
