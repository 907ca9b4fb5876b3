import type { Ctx } from './context';
import { listInstances } from './instance';
import { listNetworks } from './network';
import { listNodes } from './node';
import { listPorts } from './port';
import { listSubnets } from './subnet';

/** The kinds whose ids tables show as names (`-o wide` adds the ids). */
export type NameKind = 'node' | 'network' | 'subnet' | 'instance' | 'port';

const loaders: Record<NameKind, (ctx: Ctx) => Promise<[string, string][]>> = {
  node: async (ctx) => (await listNodes(ctx)).map((n) => [n.id, n.hostname]),
  network: async (ctx) => (await listNetworks(ctx)).map((n) => [n.id, n.name]),
  subnet: async (ctx) => (await listSubnets(ctx)).map((s) => [s.id, s.name || s.cidr]),
  instance: async (ctx) => (await listInstances(ctx)).map((i) => [i.id, i.name]),
  port: async (ctx) => (await listPorts(ctx)).map((p) => [p.id, p.name || p.ipAddress]),
};

/**
 * Names by id, for the tables of one hvctl invocation: each kind is listed
 * once, when a table first needs it. An id with no name known (a resource
 * made after the list, or one without a name) shows as the id.
 */
export class NameBook {
  private readonly byKind = new Map<NameKind, Map<string, string>>();

  async need(ctx: Ctx, kinds: readonly NameKind[]): Promise<void> {
    for (const k of kinds) {
      if (this.byKind.has(k)) continue;
      // A table without names is better than no table: a failed lookup shows ids.
      this.know(k, await loaders[k](ctx).catch(() => []));
    }
  }

  know(kind: NameKind, pairs: readonly (readonly [string, string])[]): void {
    this.byKind.set(kind, new Map(pairs.filter(([, name]) => name)));
  }

  of(kind: NameKind, id: string): string {
    return (id && this.byKind.get(kind)?.get(id)) || id;
  }
}

/** The one book of this process (hvctl runs one verb). */
export const NAMES = new NameBook();
