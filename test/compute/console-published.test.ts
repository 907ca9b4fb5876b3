import assert from 'node:assert/strict';
import { type ClientReadableStream, makeGenericClientConstructor, Metadata } from '@grpc/grpc-js';
import type { Agent } from '../../src/agent/agent';
import type { HollowDriver } from '../../src/agent/drivers/hollow/hollow-driver';
import { InstanceState, InstanceType } from '../../src/gen/hypervisor/v1/common';
import { AttachConsoleRequest, ComputeServiceClient, ConsoleData } from '../../src/gen/hypervisor/v1/compute';
import { removeStateDir, startAgent } from '../support/agent';
import { ConsoleSession, createRequest, InstanceWatch, MiB } from '../support/compute';
import { call, TestControlPlane, until } from '../support/control-plane';
import { ImageServer, testGuestDir } from '../support/image-server';

/**
 * AttachConsole as the published proto defines it: a server stream
 * (`rpc AttachConsole(AttachConsoleRequest) returns (stream ConsoleData)`).
 * Such a client sends its one request and half-closes at once; the console
 * must go on until it cancels or the instance stops.
 */
const PublishedConsole = makeGenericClientConstructor(
  {
    attachConsole: {
      path: '/hypervisor.v1.ComputeService/AttachConsole',
      requestStream: false,
      responseStream: true,
      // The published AttachConsoleRequest has fields 1-4; ours adds data=5, left empty here, so the bytes are the published message's.
      requestSerialize: (r: { instanceId: string; tty: boolean; width: number; height: number }) =>
        Buffer.from(AttachConsoleRequest.encode({ ...r, data: Buffer.alloc(0) }).finish()),
      requestDeserialize: (b: Buffer) => AttachConsoleRequest.decode(b),
      responseSerialize: (m: ConsoleData) => Buffer.from(ConsoleData.encode(m).finish()),
      responseDeserialize: (b: Buffer) => ConsoleData.decode(b),
    },
  },
  'ComputeService',
);
type Published = {
  close(): void;
  attachConsole(req: { instanceId: string; tty: boolean; width: number; height: number }, md: Metadata): ClientReadableStream<ConsoleData>;
};

describe('AttachConsole from a client of the published (server-streaming) definition', function () {
  this.timeout(60_000);
  const t = new TestControlPlane({}, { network: true });
  let agent: Agent;
  let c: ComputeServiceClient;
  let published: Published;
  let watch: InstanceWatch;
  let images: ImageServer;

  before(async () => {
    images = await new ImageServer(testGuestDir()).start();
    await t.start();
    agent = await startAgent(t, { driver: 'hollow', hollow: { supports: ['vm'] }, hostname: 'console-host' });
    c = t.client(ComputeServiceClient);
    published = new PublishedConsole(t.address, t.credentials(), t.channelOptions()) as unknown as Published;
    watch = new InstanceWatch(c);
  });
  after(async () => {
    watch?.close();
    published?.close();
    await agent?.stop();
    await t.stop();
    await images?.stop();
    if (agent) removeStateDir(agent);
  });

  const hollowConsoles = (id: string): number =>
    ((agent as unknown as { loaded: { drivers: Map<string, HollowDriver> } }).loaded.drivers.get('hollow') as unknown as { instances: Map<string, { consoles: Set<unknown> }> }).instances.get(id)?.consoles.size ?? 0;

  const open = (instanceId: string) => {
    const stream = published.attachConsole({ instanceId, tty: true, width: 80, height: 24 }, new Metadata());
    const got = { text: '', ended: false, code: undefined as number | undefined };
    stream.on('data', (d: ConsoleData) => (got.text += Buffer.from(d.data).toString()));
    stream.on('end', () => (got.ended = true));
    stream.on('error', (e: { code?: number }) => ((got.code = e.code), (got.ended = true)));
    stream.on('status', (st: { code: number }) => (got.code ??= st.code));
    return { stream, got };
  };

  it('keeps the output flowing after the client\'s half-close, until the instance stops', async () => {
    const i = await call(c, c.createInstance, createRequest('pub-console', InstanceType.INSTANCE_TYPE_VM, { kernel: images.url('vmlinuz'), memoryBytes: 64 * MiB }));
    await watch.state(i.id, InstanceState.INSTANCE_STATE_RUNNING, 20_000);
    const { got } = open(i.id);
    await until('the replayed console', () => got.text.includes('HV-GUEST-READY'));
    // Output made after the half-close (typed by another client) still reaches the published client.
    const typist = new ConsoleSession(c, i.id);
    await until('the typist attached', () => typist.text.includes('HV-GUEST-READY'));
    typist.type('echo hv-$((6*7))\n');
    await until('the answer on the published client', () => got.text.includes('hv-42'));
    assert.equal(got.ended, false);
    typist.close();
    await call(c, c.stopInstance, { instanceId: i.id, force: true, timeoutSeconds: 0 });
    await until('the console to end with the instance', () => got.ended);
    assert.equal(got.code, 0, 'ended with OK');
  });

  it('ends when the client cancels, and the server lets go of the agent\'s console', async () => {
    const i = await call(c, c.createInstance, createRequest('pub-cancel', InstanceType.INSTANCE_TYPE_VM, { kernel: images.url('vmlinuz'), memoryBytes: 64 * MiB }));
    await watch.state(i.id, InstanceState.INSTANCE_STATE_RUNNING, 20_000);
    const { stream, got } = open(i.id);
    await until('the replayed console', () => got.text.includes('HV-GUEST-READY'));
    assert.equal(hollowConsoles(i.id), 1);
    stream.cancel();
    await until('the agent\'s console released', () => hollowConsoles(i.id) === 0);
    assert.equal(got.code, 1 /* CANCELLED */);
  });
});
