import { type ChannelOptions, credentials, type Client, makeGenericClientConstructor, Server, type ServerCredentials } from '@grpc/grpc-js';

/**
 * The floor under network mode: grpc-js itself, answering a request of a
 * given size with an answer of a given size and doing nothing else, once
 * in plaintext and once over the same TLS as network mode (TLS 1.3, a
 * client certificate of the cluster CA checked by the handshake), in the
 * same process as the control planes, so what TLS alone costs a call is
 * measured in the same run as what network mode costs.
 */
const id = (b: Buffer) => b;
const ECHO = {
  echo: { path: '/bench.Echo/Echo', requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id, originalName: 'echo' },
};
const EchoClient = makeGenericClientConstructor(ECHO, 'Echo');

export interface TlsMaterial {
  readonly server: ServerCredentials;
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

export class EchoFloor {
  /** What every echo answers; the bench sets it to the size of the call it stands beside. */
  answer = Buffer.alloc(0);
  private readonly servers: Server[] = [];
  private readonly clients: Client[] = [];

  private async serve(creds: ServerCredentials): Promise<number> {
    const s = new Server();
    s.addService(ECHO, { echo: (_call: unknown, cb: (e: null, r: Buffer) => void) => cb(null, this.answer) });
    this.servers.push(s);
    return new Promise((resolve, reject) => s.bindAsync('127.0.0.1:0', creds, (e, port) => (e ? reject(e) : resolve(port))));
  }

  /** `channels` plaintext clients and `channels` TLS clients (one credentials object each, so they share connections as grpc-js decides), with `options` (the server name the certificate holds, among them), each a call `(request) => answer`. */
  async start(tls: TlsMaterial, insecure: ServerCredentials, channels: number, options: ChannelOptions = {}) {
    const [plainPort, tlsPort] = [await this.serve(insecure), await this.serve(tls.server)];
    const caller = (c: Client) => (req: Buffer) =>
      new Promise<Buffer>((resolve, reject) => (c as unknown as Record<string, (r: Buffer, cb: (e: Error | null, r: Buffer) => void) => void>).echo(req, (e, r) => (e ? reject(e) : resolve(r))));
    const make = (target: string, creds: ReturnType<typeof credentials.createInsecure>) =>
      Array.from({ length: channels }, () => {
        const c = new EchoClient(target, creds, options);
        this.clients.push(c);
        return caller(c);
      });
    return {
      plaintext: make(`127.0.0.1:${plainPort}`, credentials.createInsecure()),
      tls: make(`127.0.0.1:${tlsPort}`, credentials.createSsl(Buffer.from(tls.ca), Buffer.from(tls.key), Buffer.from(tls.cert))),
    };
  }

  stop(): void {
    for (const c of this.clients) c.close();
    for (const s of this.servers) s.forceShutdown();
  }
}
