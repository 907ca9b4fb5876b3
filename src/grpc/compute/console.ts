import { Metadata, type ServerDuplexStream } from '@grpc/grpc-js';
import { ttyOf } from '../../domain/console-tty';
import type { AgentConsoleInput, AgentConsoleOutput } from '../../gen/hypervisor/v1/agent';
import type { AttachConsoleRequest, ComputeServiceServer, ConsoleData } from '../../gen/hypervisor/v1/compute';
import { toServiceError } from '../../shared/grpc-status';
import { type AgentClients, fromAgent, instanceMetadata } from './agent-clients';
import { agentOf, type ComputeServiceDeps, requireInstance, requireRunning } from './context';

/**
 * AttachConsole: client ↔ server ↔ agent ↔ the guest's serial console. The
 * first message names the instance (and the terminal size); later ones carry
 * keystrokes in data, or a new width/height. Either side closing closes the
 * other. Whether it is a terminal was decided when the instance was made
 * (hypervisor.tty): the request's tty flag does not change it, and the header
 * metadata `x-console-tty` says which it is, so a client knows whether to put
 * its own terminal in raw mode and send sizes (a non-tty console ignores them).
 * A client leaves by cancelling the call; its half-close only ends its input.
 */
export const consoleMethods = (d: ComputeServiceDeps): Pick<ComputeServiceServer, 'attachConsole'> => ({
  attachConsole: (call: ServerDuplexStream<AttachConsoleRequest, ConsoleData>) => {
    let upstream: ReturnType<ReturnType<AgentClients['get']>['attachConsole']> | undefined;
    let done = false;
    let size = { width: 0, height: 0 };
    const finish = (e?: unknown) => {
      if (done) return;
      done = true;
      upstream?.cancel();
      if (e) call.emit('error', toServiceError(e));
      else call.end();
    };
    const forward = (m: AttachConsoleRequest) => {
      if ((m.width > 0 || m.height > 0) && (m.width !== size.width || m.height !== size.height)) {
        size = { width: m.width, height: m.height };
        upstream!.write({ resize: size } satisfies AgentConsoleInput);
      }
      if (m.data.length > 0) upstream!.write({ data: m.data } satisfies AgentConsoleInput);
    };
    call.on('data', (m: AttachConsoleRequest) => {
      if (done) return;
      if (upstream) return forward(m);
      try {
        const i = requireInstance(d, m.instanceId);
        requireRunning(i, 'AttachConsole');
        const headers = new Metadata();
        headers.set('x-console-tty', String(ttyOf(i.metadata?.annotations)));
        call.sendMetadata(headers);
        const { client, where } = agentOf(d, i);
        upstream = client.attachConsole(instanceMetadata(i.id));
        upstream.on('data', (o: AgentConsoleOutput) => {
          if (!done) call.write({ data: o.data });
        });
        upstream.on('error', (e) => finish((e as { code?: number }).code === 1 /* CANCELLED */ ? undefined : fromAgent(e, where)));
        upstream.on('end', () => finish());
        forward(m);
      } catch (e) {
        finish(e);
      }
    });
    // A half-close is not the end of a console: a client of the published API (AttachConsole as a
    // server stream) sends its one request and half-closes. Output flows until the client cancels
    // or the instance stops (the agent ends its side).
    call.on('end', () => {
      if (!upstream) finish();
    });
    call.on('cancelled', () => finish());
    call.on('error', () => finish());
  },
});
