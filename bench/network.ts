import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { credentials, makeGenericClientConstructor, Metadata } from '@grpc/grpc-js';
import { AllocateIPRequest, CreatePortRequest, CreateSubnetRequest, NetworkServiceClient, CreateNetworkRequest } from '../src/gen/hypervisor/v1/network';
import { call } from '../src/client/api-client';
import { TestNats } from '../test/support/nats';
import { ServerProcess } from '../test/support/server-process';
import { cpuSeconds, fmt, measure, type RateResult } from './support/stats';

/**
 * NetworkService hot paths (issue 5), with the parts underneath measured in
 * the same run: a grpc-js echo call and a JetStream publish.
 *  - AllocateIP, 50 clients on one hot subnet (every call appends to the same
 *    stream: the subnet aggregate decides every address, exactly);
 *  - AllocateIP, 50 clients spread over 50 subnets;
 *  - CreatePort (network AddPort → ReserveMac → AllocateIp → CreatePort: four
 *    commands, four appends, four read-your-writes waits), on one network and
 *    spread over 50.
 * Scale with BENCH_SCALE (default 1; 0.1 for a smoke run).
 */
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const N = (x: number) => Math.max(50, Math.round(x * SCALE));
const CLIENTS = 50;
const CHANNELS = 4;

const echoFloor = async (): Promise<RateResult> => {
  const child = spawn(process.execPath, [path.join(__dirname, 'support', 'echo-server.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((r) => child.stdout!.once('data', (d) => r(Number(String(d).trim()))));
  const id = (b: Buffer) => b;
  const Echo = makeGenericClientConstructor(
    { echo: { path: '/bench.Echo/Echo', requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id } },
    'Echo',
  );
  const c = new Echo(`127.0.0.1:${port}`, credentials.createInsecure()) as unknown as { echo: (b: Buffer, md: Metadata, o: object, cb: (e: Error | null) => void) => void };
  const payload = Buffer.alloc(200, 1);
  const r = await measure(N(10_000), CLIENTS, () => new Promise<void>((res, rej) => c.echo(payload, new Metadata(), {}, (e) => (e ? rej(e) : res()))));
  child.kill();
  return r;
};

const main = async () => {
  const out = (s: string) => console.log(s);
  out(`machine: ${os.cpus().length} x ${os.cpus()[0].model}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, load ${os.loadavg()[0].toFixed(1)}, scale ${SCALE}`);
  const nats = await new TestNats().start();
  const nc = await nats.connect();

  // Floors, under the same concurrency.
  const echo = await echoFloor();
  out(`grpc-js echo (floor)                    ${fmt(echo)}`);
  const js = nc.jetstream();
  await (await nc.jetstreamManager()).streams.add({ name: 'BENCH', subjects: ['bench.>'] });
  const body = Buffer.alloc(400, 1);
  const jsPub = await measure(N(10_000), CLIENTS, (i) => js.publish(`bench.${i % 1000}`, body, { msgID: `m${i}` }));
  out(`JetStream publish (floor)               ${fmt(jsPub)}`);
  const of = (r: RateResult) => `= ${((100 * r.perSecond) / jsPub.perSecond).toFixed(0)}% of JetStream publish, ${((100 * r.perSecond) / echo.perSecond).toFixed(0)}% of grpc echo`;

  const server = await new ServerProcess(nats.url).start();
  const clients = Array.from({ length: CHANNELS }, () => new NetworkServiceClient(server.address, credentials.createInsecure()));
  const pick = (i: number) => clients[i % clients.length];
  const rpc = <Req, Res>(i: number, method: keyof NetworkServiceClient, req: Req): Promise<Res> => {
    const c = pick(i);
    return call(c, c[method] as never, req) as Promise<Res>;
  };
  const network = async (i: number) => (await rpc<CreateNetworkRequest, { network: { id: string } }>(i, 'createNetwork', CreateNetworkRequest.fromPartial({ name: `bench-${i}` }))).network.id;
  const subnet = async (networkId: string, cidr: string) =>
    (await rpc<CreateSubnetRequest, { subnet: { id: string } }>(0, 'createSubnet', CreateSubnetRequest.fromPartial({ networkId, cidr }))).subnet.id;

  // One hot subnet: a /16, so every allocation fits.
  const hotNet = await network(0);
  const hot = await subnet(hotNet, '10.0.0.0/16');
  // 50 subnets, each on its own network.
  const spreadNets = await Promise.all(Array.from({ length: 50 }, (_, i) => network(i + 1)));
  const spread = await Promise.all(spreadNets.map((id, i) => subnet(id, `10.${100 + Math.floor(i / 16)}.${(i % 16) * 16}.0/20`)));
  const cpu = async <T>(f: () => Promise<T>): Promise<[T, number]> => {
    const c0 = await cpuSeconds(server.child!.pid!);
    const t0 = process.hrtime.bigint();
    const r = await f();
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    return [r, (100 * ((await cpuSeconds(server.child!.pid!)) - c0)) / s];
  };

  const [hotR, hotCpu] = await cpu(() => measure(N(5_000), CLIENTS, (i) => rpc(i, 'allocateIp', AllocateIPRequest.fromPartial({ subnetId: hot }))));
  out(`AllocateIP, 1 hot subnet, ${CLIENTS} clients    ${fmt(hotR)}   ${of(hotR)}; server CPU ${hotCpu.toFixed(0)}%`);
  const [spreadR, spreadCpu] = await cpu(() => measure(N(5_000), CLIENTS, (i) => rpc(i, 'allocateIp', AllocateIPRequest.fromPartial({ subnetId: spread[i % spread.length] }))));
  out(`AllocateIP, 50 subnets, ${CLIENTS} clients      ${fmt(spreadR)}   ${of(spreadR)}; server CPU ${spreadCpu.toFixed(0)}%`);

  const [portHotR, portHotCpu] = await cpu(() => measure(N(2_000), CLIENTS, (i) => rpc(i, 'createPort', CreatePortRequest.fromPartial({ networkId: hotNet, subnetId: hot }))));
  out(`CreatePort, 1 network, ${CLIENTS} clients       ${fmt(portHotR)}   ${of(portHotR)}; server CPU ${portHotCpu.toFixed(0)}%`);
  const [portR, portCpu] = await cpu(() => measure(N(2_000), CLIENTS, (i) => rpc(i, 'createPort', CreatePortRequest.fromPartial({ networkId: spreadNets[i % 50], subnetId: spread[i % 50] }))));
  out(`CreatePort, 50 networks, ${CLIENTS} clients     ${fmt(portR)}   ${of(portR)}; server CPU ${portCpu.toFixed(0)}%`);

  for (const c of clients) c.close();
  await server.stop();
  await nc.close();
  await nats.stop();
};

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
