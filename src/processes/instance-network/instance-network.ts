import type { Logger } from 'pino';
import { type Dispatcher, type Origin, step, systemOrigin } from '../../bus/dispatcher';
import { reactionTo } from '../../bus/event-origin';
import type { InstanceState } from '../../commands/instance';
import { Code, DomainError } from '../../errors';
import type { RecordedEvent } from '../../eventstore/event';
import type { Instance } from '../../gen/hypervisor/v1/compute';
import type { EntityReadModel } from '../../projections/entity-read-model';
import type { NetworkReadModels } from '../../projections/network-read-models';
import type { ProjectionRuntime } from '../../projections/projection-runtime';
import { derivedId } from '../network/ids';
import type { NetworkOperations } from '../network/operations';
import { ownerKey } from '../network/reservations';
import type { NetworkReconciler } from '../network/reconciler';
import { portDeviceName } from '../../sdn/names';
import { Controller } from '../controller';
import { MultiMap } from '../multimap';
import type { ReconcileResult, ResyncOptions } from '../work-queue';

/** How ports made for instances are named: the instance id after this prefix, so an operator (and a restart) can tell whose they are. */
export const INSTANCE_PORT_PREFIX = 'instance:';

/**
 * The port of the network step's n-th try in one generation of the instance:
 * the same ids again after a crash (the step resumes), new ones after a try
 * that was undone (port ids are never reused).
 */
export const instancePortId = (instanceId: string, generation: number, attempt: number) => derivedId(instanceId, 'port', String(generation), String(attempt));
/** The floating IP made for an instance's port (assign_public_ip). */
export const instanceFloatingIpId = (portId: string) => derivedId(portId, 'floating-ip');
const MAX_ATTEMPTS = 50;

const HOSTNAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;
/** Failures worth trying again rather than failing the instance for. */
const TRANSIENT: readonly number[] = [Code.UNAVAILABLE, Code.DEADLINE_EXCEEDED, Code.INTERNAL, Code.ABORTED];

export interface InstanceNetworkOptions {
  /** How often every instance and instance port is looked at again. */
  readonly resyncMs: number;
}

/**
 * The network step of the instance lifecycle (issue 5, point 5), as a
 * level-triggered process manager keyed by instance:
 * - an instance CREATING on a node whose spec asks for a network and that has
 *   no port yet gets one, as one saga: CreatePort (address from IPAM, its
 *   security groups) → BindPort to the instance on its node → with
 *   assign_public_ip a floating IP from the external network a router
 *   connects the subnet to, associated with the port → instance
 *   AttachInstanceNetwork, which fills Instance.ip_address and lets the
 *   lifecycle send the create to the agent. A failure undoes the steps
 *   taken and fails the instance with the reason (FailInstance, for the
 *   generation it was scheduled in); a transient one is tried again.
 * - an instance that moved to another node takes its port along (BindPort).
 * - an instance that is gone (deleted) gives everything back: its floating
 *   IPs, the binding and the port (whose MAC, address and references the
 *   port's own follow-ups release); so does a port left by an earlier
 *   attempt that is not the instance's port. A port a user made and bound
 *   to the instance (BindPort) is only unbound when the instance is gone.
 * Commands carry actor `system:instance-network` and the instance event that
 * caused them.
 */
export class InstanceNetwork extends Controller {
  /** instance id → ports made for it or bound to it. */
  private readonly portsOf = new MultiMap();
  private readonly instanceOfPort = new Map<string, string>();
  /** The last live event of each instance: the cause of what is done for it. */
  private readonly lastEvent = new Map<string, RecordedEvent>();

  private ops!: NetworkOperations;
  private reconciler!: NetworkReconciler;
  private dispatcher!: Dispatcher;

  /** Made before the projections start, so its index of instance ports sees the whole log. */
  constructor(
    private readonly instances: EntityReadModel<InstanceState, Instance>,
    private readonly models: NetworkReadModels,
    private readonly opts: InstanceNetworkOptions,
    private readonly log: Logger,
  ) {
    super('instance-network', log, 8);
    this.watch(this.models.ports.changes$.subscribe((c) => this.index(c.id, c.type === 'DELETED' ? undefined : c.object)));
  }

  /** Call once the projections have caught up. */
  start(d: { ops: NetworkOperations; reconciler: NetworkReconciler; dispatcher: Dispatcher; runtime: ProjectionRuntime } & Pick<ResyncOptions, 'firstResyncAfter'>): void {
    ({ ops: this.ops, reconciler: this.reconciler, dispatcher: this.dispatcher } = d);
    this.watch(
      d.runtime.commits$.subscribe((commit) => {
        for (const e of commit) if (e.aggregateType === 'instance') this.lastEvent.set(e.aggregateId, e);
      }),
    );
    this.watch(this.instances.changes$.subscribe((c) => this.queue.add(c.id)));
    this.queue.resyncEvery(this.opts.resyncMs, () => this.resyncKeys(), d.firstResyncAfter);
  }

  private *resyncKeys(): Iterable<string> {
    yield* this.instances.ids();
    // Instances that are gone but still have ports.
    yield* this.portsOf.keys();
  }

  private index(portId: string, port: { instanceId: string; name: string } | undefined): void {
    const before = this.instanceOfPort.get(portId);
    const marked = port?.name.startsWith(INSTANCE_PORT_PREFIX) ? port.name.slice(INSTANCE_PORT_PREFIX.length) : '';
    const after = port ? port.instanceId || marked : undefined;
    if (before === after) return;
    if (before) this.portsOf.delete(before, portId);
    if (after) {
      this.portsOf.add(after, portId);
      this.instanceOfPort.set(portId, after);
    } else this.instanceOfPort.delete(portId);
  }

  private originOf(id: string, what: string, timeoutMs = 30_000): Origin {
    const e = this.lastEvent.get(id);
    return e
      ? reactionTo('instance-network', e, what, timeoutMs)
      : systemOrigin('instance-network', `instance-network:${id}:${what}`, { correlationId: id, causationId: id }, timeoutMs);
  }

  protected async reconcile(id: string): Promise<ReconcileResult> {
    const s = this.instances.state(id);
    if (!s?.exists) {
      // Gone: everything made for it goes back, and a user's port bound to it is unbound. An id no
      // instance here ever had names a device of something else (as Neutron's device_id may): a
      // user's port bound to it is left as it is.
      for (const portId of this.portsOf.get(id)) if (s || this.madeFor(id, portId)) await this.teardown(id, portId);
      return;
    }
    const want = s.spec?.network;
    if (!want) return;
    if (s.status === 'CREATING' && s.nodeId && !s.network && s.pending?.kind === 'create') return this.attach(s);
    if (s.network && s.nodeId && s.status !== 'DELETING') {
      const port = this.models.ports.state(s.network.portId);
      // The instance moved (rescheduled after a failure): its port goes with it.
      if (port?.status === 'active' && port.nodeId !== s.nodeId)
        await this.dispatcher.execute(this.originOf(id, `rebind:${s.nodeId}`), 'port', port.id, {
          type: 'BindPort',
          data: { instanceId: id, nodeId: s.nodeId, deviceName: port.deviceName || portDeviceName(port.id, s.kind ?? 'vm') },
        });
    }
    // Ports made by earlier attempts that are not the instance's port (a user's port bound to it stays as it is).
    if (s.network)
      for (const portId of this.portsOf.get(id)) if (portId !== s.network.portId && this.madeFor(id, portId)) await this.teardown(id, portId);
  }

  private async attach(s: InstanceState): Promise<ReconcileResult> {
    const id = s.id;
    const net = s.spec!.network!;
    const generation = s.generation;
    let attempt = 0;
    while (attempt < MAX_ATTEMPTS && this.models.ports.state(instancePortId(id, generation, attempt))?.status === 'deleted') attempt++;
    if (attempt >= MAX_ATTEMPTS) throw new Error(`instance ${id}: the network step was undone ${attempt} times; giving up until the next generation`);
    const portId = instancePortId(id, generation, attempt);
    const fipId = instanceFloatingIpId(portId);
    const o = this.originOf(id, `network:${generation}:${attempt}`);
    try {
      await this.reconciler.inFlight.around([ownerKey('port', portId), ownerKey('floating_ip', fipId)], () =>
        this.ops.saga(o).run(async (saga) => {
          const existing = this.models.ports.state(portId);
          // An earlier try (before a crash) got this far: go on with its port, and delete it if this try fails.
          if (existing?.status === 'active') saga.onFailure('undo-create-port', { aggregateType: 'port', aggregateId: portId, command: { type: 'DeletePort', data: { asOwner: '' } } });
          const port =
            existing?.status === 'active'
              ? existing
              : await this.ops.ports.steps(saga, portId, {
                  networkId: net.networkId,
                  subnetId: net.subnetId,
                  name: `${INSTANCE_PORT_PREFIX}${id}`,
                  macAddress: '',
                  ipAddress: '',
                  securityGroups: net.securityGroups,
                  bindingType: 'unspecified',
                  deviceOwner: '',
                  deviceId: '',
                  instanceId: id,
                  hostname: s.name && HOSTNAME.test(s.name) ? s.name : '',
                });
          if (!port.ipAddress) throw new DomainError(Code.FAILED_PRECONDITION, `network ${net.networkId} has no subnet to give the instance an address from`);
          await saga.step(
            'bind',
            'port',
            portId,
            { type: 'BindPort', data: { instanceId: id, nodeId: s.nodeId, deviceName: portDeviceName(portId, s.kind ?? 'vm') } },
            { type: 'UnbindPort', data: { instanceId: id } },
          );
          if (net.assignPublicIp) {
            const external = this.models.externalNetworkFor(port.subnetId);
            if (!external)
              throw new DomainError(
                Code.FAILED_PRECONDITION,
                `assign_public_ip: no router connects subnet ${port.subnetId} to an external network (a router with an interface on it and an external gateway)`,
              );
            if (this.models.floatingIps.state(fipId)?.status !== 'active') await this.ops.floatingIps.createSteps(saga, fipId, external, '');
            await this.ops.floatingIps.associateSteps(saga, fipId, portId, '');
          }
          await saga.step('attach-network', 'instance', id, {
            type: 'AttachInstanceNetwork',
            data: { portId, ipAddress: port.ipAddress, macAddress: port.macAddress },
          });
        }),
      );
    } catch (e) {
      if (!(e instanceof DomainError) || TRANSIENT.includes(e.code)) throw e; // the queue tries again, backing off
      this.log.info({ instanceId: id, err: e.message }, 'instance network step failed; failing the instance');
      const now = this.instances.state(id);
      if (now?.exists && now.generation === generation && now.pending?.kind === 'create')
        await this.dispatcher.execute(step(o, 'fail'), 'instance', id, {
          type: 'FailInstance',
          // The network's answer is the same whichever node the instance is on: not retried elsewhere.
          data: { reason: `network: ${e.message}`, generation, cause: 'spec' },
        });
    }
  }

  /**
   * Floating IPs, binding, port: in that order (a bound port or one with a
   * floating IP cannot be deleted). A floating IP made for the instance is
   * deleted; one the user associated is only disassociated, as Neutron does.
   */
  private async teardown(instanceId: string, portId: string): Promise<void> {
    const port = this.models.ports.state(portId);
    if (port?.status !== 'active') return;
    if (!this.madeFor(instanceId, portId)) {
      // A port the user made and bound to the instance outlives it, unbound, as a port Nova did not
      // make outlives its server in Neutron: deleting it took the user's port (and its address) away.
      if (port.instanceId === instanceId)
        await this.dispatcher.execute(this.originOf(instanceId, `unbind:${portId}`), 'port', portId, { type: 'UnbindPort', data: { instanceId } });
      return;
    }
    const ours = instanceFloatingIpId(portId);
    for (const f of port.floatingIps)
      if (f !== ours) await this.ops.floatingIps.disassociate(this.originOf(instanceId, `disassociate:${f}`), f);
    // Made for this port, associated or not (a try that stopped between create and associate).
    await this.deleteFloatingIp(instanceId, ours);
    if (port.instanceId)
      await this.dispatcher.execute(this.originOf(instanceId, `unbind:${portId}`), 'port', portId, { type: 'UnbindPort', data: { instanceId: port.instanceId } });
    await this.ops.ports.delete(this.originOf(instanceId, `delete-port:${portId}`), portId);
  }

  /** Whether this process made the port for the instance (its name says so), rather than a user binding one of theirs to it. */
  private madeFor(instanceId: string, portId: string): boolean {
    return this.models.ports.state(portId)?.name === `${INSTANCE_PORT_PREFIX}${instanceId}`;
  }

  private async deleteFloatingIp(instanceId: string, fipId: string): Promise<void> {
    if (this.models.floatingIps.state(fipId)?.status !== 'active') return;
    await this.ops.floatingIps.delete(this.originOf(instanceId, `delete-floating-ip:${fipId}`), fipId);
  }
}
