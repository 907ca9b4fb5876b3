import type { CallOptions, Client, Metadata, ServiceError } from '@grpc/grpc-js';
import { EntityReadModel } from '../projections/entity-read-model';
import type { CheckedModel, ServedApi } from './checked-models';

type Unary<Req, Res> = (req: Req, md: Metadata, opts: Partial<CallOptions>, cb: (e: ServiceError | null, r: Res) => void) => unknown;
type UnaryNoMd<Req, Res> = (req: Req, cb: (e: ServiceError | null, r: Res) => void) => unknown;

export const call = <Req, Res>(client: Client, method: Unary<Req, Res> | UnaryNoMd<Req, Res>, req: Req): Promise<Res> =>
  new Promise((resolve, reject) => (method as UnaryNoMd<Req, Res>).call(client, req, (e, r) => (e ? reject(e) : resolve(r))));


/** A resource read model: EntityReadModel of its decider and view, against its List RPC. */
export const entity = <S, V>(
  name: string,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  decider: any,
  view: (s: S) => V | undefined,
  json: (v: V) => Record<string, unknown>,
  id: (v: V) => string,
  list: (api: ServedApi) => Promise<V[]>,
): CheckedModel => ({
  name,
  build: () => new EntityReadModel<S, V>({ decider, view }),
  rebuilt: (m) => new Map((m as EntityReadModel<S, V>).list().map((v) => [id(v), json(v)])),
  served: async (api) => new Map((await list(api)).map((v) => [id(v), json(v)])),
});

