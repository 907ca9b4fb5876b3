import { spawn } from 'node:child_process';

export interface ToolResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface ToolOptions {
  signal?: AbortSignal;
  /** Debian package to name when the binary is missing. */
  pkg?: string;
  input?: string;
  /**
   * End the tool when the calling process dies (kill -9 included), through
   * util-linux's setpriv --pdeathsig: an orphaned skopeo would go on writing
   * into a scratch dir the next agent has already cleared.
   */
  dieWithParent?: boolean;
}

/** Runs a command line tool to its end; a missing binary rejects with the Debian package to install. */
export const runTool = (bin: string, args: string[], opts: ToolOptions = {}): Promise<ToolResult> =>
  new Promise((resolve, reject) => {
    const [file, argv] = opts.dieWithParent ? ['setpriv', ['--pdeathsig', 'KILL', '--', bin, ...args]] : [bin, args];
    const c = spawn(file, argv, { stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], signal: opts.signal });
    let stdout = '';
    let stderr = '';
    c.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    c.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    if (opts.input !== undefined) c.stdin!.end(opts.input);
    c.on('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'ENOENT' ? new Error(`${bin} is not installed${opts.pkg ? ` (Debian package ${opts.pkg})` : ''}`) : e),
    );
    c.on('close', (code) => {
      if (opts.dieWithParent && code === 127 && /failed to execute/.test(stderr)) reject(new Error(`${bin} is not installed${opts.pkg ? ` (Debian package ${opts.pkg})` : ''}`));
      else resolve({ code, stdout, stderr });
    });
  });

/** The last line a Go tool logged, without logrus' `time=… level=fatal msg=` wrapping. */
export const lastMessage = (stderr: string): string => {
  const lines = stderr.trim().split('\n').filter(Boolean);
  const last = lines[lines.length - 1] ?? '';
  const m = /msg="((?:[^"\\]|\\.)*)"/.exec(last);
  return (m ? m[1].replace(/\\"/g, '"') : last).trim();
};
