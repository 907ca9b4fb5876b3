import { ServerProcess } from '../../test/support/server-process';

/** The server under `node --cpu-prof` (not allowed in NODE_OPTIONS), writing its profile into `dir` when it stops. */
class ProfiledServer extends ServerProcess {
  constructor(natsUrl: string, private readonly profileDir: string) {
    super(natsUrl, extraArgs());
  }

  protected override spawn(args: readonly string[], env: Record<string, string> = {}) {
    return super.spawn(args, env, ([node, ...rest]) => [node, '--cpu-prof', `--cpu-prof-dir=${this.profileDir}`, ...rest]);
  }
}

/** More flags for the bench's server (BENCH_SERVER_ARGS, space-separated: `--no-feed` measures a write without the feed). */
const extraArgs = (): string[] => (process.env.BENCH_SERVER_ARGS ?? '').split(' ').filter(Boolean);

/** A server process for a benchmark: profiled into `profileDir` when one is given (BENCH_PROFILE=<dir>). */
export const benchServer = (natsUrl: string, profileDir?: string): ServerProcess =>
  profileDir ? new ProfiledServer(natsUrl, profileDir) : new ServerProcess(natsUrl, extraArgs());
