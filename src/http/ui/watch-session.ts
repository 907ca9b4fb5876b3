import { type ClientReadableStream, status } from '@grpc/grpc-js';
import { type ApiError, apiError } from './http-status';

/** One change of a watch: its log revision and its event in the proto3 JSON mapping. */
export interface WatchMessage {
  readonly revision: bigint;
  readonly json: unknown;
}

/** A gRPC watch the gateway can open: WatchNodes or WatchInstance, from a revision. */
export interface WatchSource<Res = unknown> {
  start(sinceRevision: bigint): ClientReadableStream<Res>;
  toMessage(m: Res): WatchMessage;
}

/** Where a watch goes: a Server-Sent Events response or a WebSocket. */
export interface WatchSink {
  start(info: { resumed: boolean; sinceRevision: string }): void;
  /** False while the browser is behind: the watch pauses until `onDrain` calls back. */
  change(m: WatchMessage): boolean;
  onDrain(resume: () => void): void;
  /** The watch ended with an error: its status as the API shows it, and the gRPC code. */
  failure(e: ApiError, code: number): void;
  end(): void;
}

/**
 * Runs one gRPC watch into a sink: `start` first (a fresh watch, since
 * revision 0, is the snapshot then the changes; a resumed one only what came
 * after), then each change, and `failure` with the status when the server
 * ends the watch with an error (OUT_OF_RANGE: too old to resume; watch from
 * 0). A browser that reads slowly holds the gRPC stream back, and the
 * server's bounded watch buffer then ends it: no memory grows here.
 * Returns the function that ends it.
 */
export const runWatch = <Res>(source: WatchSource<Res>, sinceRevision: bigint, sink: WatchSink): (() => void) => {
  sink.start({ resumed: sinceRevision > 0n, sinceRevision: sinceRevision.toString() });
  let stream: ClientReadableStream<Res>;
  try {
    stream = source.start(sinceRevision);
  } catch (e) {
    sink.failure(apiError(e).body, status.INTERNAL);
    sink.end();
    return () => undefined;
  }
  let ended = false;
  let paused = false;
  const end = () => {
    if (ended) return;
    ended = true;
    stream.cancel();
    sink.end();
  };
  stream.on('data', (m: Res) => {
    if (ended) return;
    if (!sink.change(source.toMessage(m)) && !paused) {
      paused = true;
      stream.pause();
      sink.onDrain(() => {
        paused = false;
        stream.resume();
      });
    }
  });
  stream.on('error', (e: { code?: number }) => {
    if (!ended && e.code !== status.CANCELLED) sink.failure(apiError(e).body, e.code ?? status.UNKNOWN);
    end();
  });
  stream.on('end', end);
  return end;
};
