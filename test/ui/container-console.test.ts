import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { IdentityServiceClient } from '../../src/gen/hypervisor/iam/v1/iam';
import { InstanceType } from '../../src/gen/hypervisor/v1/common';
import { ContainerLab } from '../containers/support/lab';
import { TestBrowser } from '../support/browser';
import { createRequest } from '../support/compute';
import { call, until } from '../support/control-plane';

const CONTAINER = InstanceType.INSTANCE_TYPE_CONTAINER;

/**
 * Containers' consoles in the web console, in a real headless Chromium: a
 * container made with a terminal gets xterm as it is (the container's pty
 * echoes and edits); one made without (hypervisor.tty=false: plain pipes)
 * gets its lines edited by the page, which echoes what is typed, applies
 * Backspace, sends the line on Enter, and draws the container's bare
 * newlines as new lines.
 */
describe('web console (/ui): containers with and without a terminal, in a real headless Chromium', function () {
  this.timeout(120_000);
  const lab = new ContainerLab();
  const browser = new TestBrowser();
  let page: Page;
  let base = '';
  before(async () => {
    await lab.start();
    // The lab's server is in network mode (its agent joined): the console is HTTPS and needs a session.
    await browser.start({ trustServer: true });
    page = await browser.page();
    base = `https://127.0.0.1:${lab.t.cp.httpPort}/ui/`;
    // As `hvctl ui login` and its user do: a one-time URL, opened in the browser, sets the session cookie.
    const identity = lab.t.client(IdentityServiceClient);
    const login = new URL((await call(identity, identity.createConsoleLogin, {})).url);
    const landed = await page.goto(new URL(login.pathname + login.search, base).href);
    assert.equal(landed?.status(), 200, 'logged in: the console page');
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.log(browser.log.slice(-30).join('\n'));
  });
  after(async () => {
    await browser.stop();
    await lab.stop();
  });

  /** The terminal's rows as a user reads them (xterm draws blanks as no-break spaces). */
  const rows = async () => (await page.$$eval('#terminal .xterm-rows > div', (els) => els.map((e) => e.textContent ?? ''))).map((r) => r.replace(/\u00a0/g, ' ').trimEnd());
  const shell = async (name: string, tty: boolean) => {
    const created = await call(
      lab.c,
      lab.c.createInstance,
      createRequest(name, CONTAINER, { image: lab.ref, command: ['/bin/sh'], args: tty ? ['-i'] : [] }, { metadata: { labels: {}, annotations: { 'hypervisor.tty': String(tty) } } }),
    );
    await lab.running(created.id);
    await page.goto(`${base}#/instances/${created.id}`);
    await page.waitForSelector(`#terminal[data-tty="${tty}"]`, { timeout: 15_000 });
    await page.waitForSelector('.console-status[data-console-status="open"]', { timeout: 10_000 });
    await page.click('#terminal');
    return created.id;
  };

  it('without a terminal: the page echoes and edits the line, sends it on Enter, and each line of output starts a row', async () => {
    await shell('pipes', false);
    await page.keyboard.type('echo one; echo two-$((6*7))x');
    await page.keyboard.press('Backspace');
    await page.keyboard.press('Enter');
    await until('the answer on rows of its own', async () => {
      const r = await rows();
      return r.includes('one') && r.includes('two-42');
    }, 15_000).catch(async (e: Error) => assert.fail(`${e.message}: ${JSON.stringify(await rows())}`));
    const r = await rows();
    assert.ok(r.includes('echo one; echo two-$((6*7))'), `the typed line, echoed and edited: ${JSON.stringify(r)}`);
  });

  it('with a terminal: the container\'s pty echoes and answers as it does for a VM', async () => {
    await shell('pty', true);
    await page.keyboard.type('echo pty-$((6*7))');
    await page.keyboard.press('Enter');
    await until('the answer', async () => (await rows()).some((l) => l === 'pty-42'), 15_000).catch(async (e: Error) => assert.fail(`${e.message}: ${JSON.stringify(await rows())}`));
  });
});
