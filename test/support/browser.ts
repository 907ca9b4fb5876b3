import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

/** Debian's chromium (scripts/setup.sh installs it). */
export const CHROMIUM = process.env.HV_CHROMIUM ?? '/usr/bin/chromium';

/** Where tests leave screenshots for people to look at (git-ignored). */
export const ARTIFACTS = path.resolve(__dirname, '../../../test-artifacts');

/**
 * A real headless Chromium with a fresh profile of its own, driven by
 * playwright-core. Nothing of the machine's own browser profile is used,
 * and the profile is removed afterwards.
 */
export class TestBrowser {
  private context?: BrowserContext;
  private readonly profile = mkdtempSync(path.join(os.tmpdir(), 'hv-chromium-'));
  /** What the pages printed to their console, and their uncaught errors: shown when a test fails. */
  readonly log: string[] = [];

  /** ignoreHttpsErrors (or start's trustServer): a network-mode server's certificate is of its own cluster CA, which no browser's trust store holds (hvctl is given the CA file). */
  constructor(private readonly o: { ignoreHttpsErrors?: boolean } = {}) {}

  async start(opts: { trustServer?: boolean } = {}): Promise<this> {
    const trust = !!(this.o.ignoreHttpsErrors || opts.trustServer);
    this.context = await chromium.launchPersistentContext(this.profile, {
      executablePath: CHROMIUM,
      ignoreHTTPSErrors: trust,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', ...(trust ? ['--ignore-certificate-errors'] : [])],
      viewport: { width: 1360, height: 860 },
    });
    return this;
  }

  async page(): Promise<Page> {
    const p = await this.context!.newPage();
    p.on('console', (m) => this.log.push(`console.${m.type()}: ${m.text()}`));
    p.on('pageerror', (e) => this.log.push(`pageerror: ${e.message}`));
    return p;
  }

  async screenshot(p: Page, name: string): Promise<string> {
    mkdirSync(ARTIFACTS, { recursive: true });
    const file = path.join(ARTIFACTS, name);
    await p.screenshot({ path: file, fullPage: true });
    return file;
  }

  async stop(): Promise<void> {
    await this.context?.close();
    rmSync(this.profile, { recursive: true, force: true });
  }
}
