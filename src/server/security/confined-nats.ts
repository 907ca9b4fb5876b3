import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { JetStreamManager } from 'nats';
import type { Logger } from 'pino';
import type { Observable } from 'rxjs';
import { ensureNodeConsumer, ensureWorkStream } from '../../agent/work-stream';
import { nodeIdFor } from '../../commands/node/identity';
import type { NodeIdentityState } from '../../commands/node_identity';
import type { IntegratorState } from '../../commands/integrator';
import type { ClusterPki } from '../../pki/cluster-pki';
import { authorizationBlock, type NatsIdentity, tlsBlock } from './nats-authorization';

/**
 * The identities NATS lets in: the control plane, this host's own agent,
 * every node that joined and every integrator given feed credentials, but
 * none revoked.
 */
export const natsIdentities = (nodes: readonly NodeIdentityState[], integrators: readonly IntegratorState[] = [], localHost = os.hostname()): NatsIdentity[] => [
  { kind: 'control-plane' },
  { kind: 'node', hostname: localHost },
  ...nodes.filter((n) => n.exists && !n.revokedAt).map((n) => ({ kind: 'node' as const, hostname: n.id })),
  ...integrators.filter((i) => i.exists && !i.revokedAt && i.consumer).map((i) => ({ kind: 'integrator' as const, name: i.id, consumer: i.consumer! })),
];

/** The embedded nats-server's configuration in network mode: TLS with verify_and_map on every connection, loopback included. */
export const confinedConfig = (pki: ClusterPki, ids: readonly NatsIdentity[], storeDir: string): string =>
  [
    '# Made by hypervisor-server: every client presents a certificate of the cluster CA and is mapped to its user.',
    // Here and not only as a flag: a reload applies the file, and a file without it would turn JetStream off.
    `jetstream { store_dir: ${JSON.stringify(storeDir)} }`,
    tlsBlock({ cert: pki.server.certFile, key: pki.server.keyFile, ca: pki.ca.certFile }),
    authorizationBlock(ids),
  ].join('\n');

/**
 * Keeps the embedded nats-server's authorization as the log says: when a
 * node joins or is revoked, the block is written again and nats-server
 * reloaded (SIGHUP: no restart, no other connection dropped); a joined
 * node's work consumer is made here, by the control plane, with its filter.
 */
export class ConfinedNats {
  private written = '';

  constructor(
    /** None for an operator's NATS: its authorization is theirs to write (`hvctl nats authorization`). */
    readonly file: string | undefined,
    /** nats-server's JetStream store (its --store_dir). */
    private readonly storeDir: string,
    private readonly pki: ClusterPki,
    private readonly reload: () => void,
    private readonly log: Logger,
  ) {}

  static fileIn(natsDir: string): string {
    return path.join(natsDir, 'nats.conf');
  }

  /**
   * An operator's confined NATS (or another replica's), given with --nats-url tls://…: nothing to write or reload
   * here, but a joined node's work consumer is still made by the control plane (the node may not make it itself).
   */
  static given(pki: ClusterPki, log: Logger): ConfinedNats {
    return new ConfinedNats(undefined, '', pki, () => undefined, log);
  }

  /** Writes the configuration; true when it changed (never for a NATS this server did not start). */
  write(ids: readonly NatsIdentity[]): boolean {
    if (!this.file) return false;
    const text = confinedConfig(this.pki, ids, this.storeDir);
    if (text === this.written) return false;
    writeFileSync(this.file, text, { mode: 0o600 });
    this.written = text;
    return true;
  }

  /**
   * Follows the node identities: rewrite, reload, and make each joined node's
   * consumer. A pass that fails (JetStream not answering, as during a reload
   * on a slow host) is tried again with a growing pause until one succeeds:
   * a joined node whose consumer is never made would take no work at all.
   */
  follow(
    nodes: { list(): NodeIdentityState[]; changes$: Observable<unknown> },
    integrators: { list(): IntegratorState[]; changes$: Observable<unknown> },
    jsm: () => Promise<JetStreamManager>,
    retry: { firstMs: number; maxMs: number } = { firstMs: 1_000, maxMs: 30_000 },
  ): { unsubscribe(): void } {
    let stopped = false;
    let pauseMs = retry.firstMs;
    let timer: NodeJS.Timeout | undefined;
    const apply = async () => {
      const all = nodes.list();
      if (this.write(natsIdentities(all, integrators.list()))) {
        this.reload();
        this.log.info({ nodes: all.filter((n) => !n.revokedAt).length, file: this.file }, 'NATS authorization rewritten and nats-server reloaded');
      }
      const m = await jsm();
      await ensureWorkStream(m);
      for (const n of all.filter((x) => !x.revokedAt)) await ensureNodeConsumer(m, nodeIdFor(n.id));
    };
    const pass = () =>
      apply().then(
        () => {
          pauseMs = retry.firstMs;
        },
        (err: Error) => {
          if (stopped) return;
          this.log.warn({ error: err.message, retryInMs: pauseMs }, 'NATS authorization: the work consumers are not all made yet; trying again');
          clearTimeout(timer);
          timer = setTimeout(again, pauseMs).unref();
          pauseMs = Math.min(pauseMs * 2, retry.maxMs);
        },
      );
    let chain = pass();
    function again() {
      if (stopped) return;
      clearTimeout(timer);
      chain = chain.then(pass);
    }
    const subs = [nodes.changes$.subscribe(again), integrators.changes$.subscribe(again)];
    return {
      unsubscribe: () => {
        stopped = true;
        clearTimeout(timer);
        subs.forEach((x) => x.unsubscribe());
      },
    };
  }
}
