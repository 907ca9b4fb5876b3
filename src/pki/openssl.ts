import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/**
 * Runs Debian's openssl. Its output (a key, a certificate) is returned and
 * never logged; an error names the subcommand and openssl's own words, which
 * never hold key material.
 */
export const openssl = (args: readonly string[]): Promise<string> =>
  new Promise((resolve, reject) =>
    execFile('openssl', args, { maxBuffer: 1 << 20 }, (err, stdout, stderr) =>
      err ? reject(new Error(`openssl ${args[0]}: ${String(stderr).trim() || err.message}`)) : resolve(String(stdout)),
    ),
  );

/** A private directory (0700) for openssl's inputs that must be files, removed afterwards whatever happens. */
export const withScratch = async <T>(work: (file: (name: string, content: string) => Promise<string>) => Promise<T>): Promise<T> => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hv-pki-'));
  try {
    return await work(async (name, content) => {
      const f = path.join(dir, name);
      await writeFile(f, content, { mode: 0o600 });
      return f;
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
};

/** A new P-256 private key, PEM. */
export const newKey = (): Promise<string> => openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']);
