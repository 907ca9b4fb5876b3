import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { connect, type NatsConnection } from 'nats';
import type { Page } from 'playwright-core';
import pino from 'pino';
import type { Agent } from '../../src/agent/agent';
import { GuestRecords } from '../../src/agent/cloud-init/guest-records';
import { PhoneHomeReports } from '../../src/agent/cloud-init/phone-home';
import { LocalStore } from '../../src/agent/local-store';
import { Reporter } from '../../src/agent/reporter';
import { CommandBus } from '../../src/bus/command-bus';
import { InstanceState, InstanceType } from '../../src/gen/hypervisor/v1/common';
import { ComputeServiceClient, type Instance } from '../../src/gen/hypervisor/v1/compute';
import { metadataServer, PHONE_HOME_PATH } from '../../src/sdn/metadata/server';
import { createRequest, InstanceWatch, MiB } from '../support/compute';
import { call, TestControlPlane } from '../support/control-plane';
import type { ImageServer } from '../support/image-server';
import { HollowUiLab } from './support/hollow-ui-lab';

const SUBNET = 'ui-subnet';
const MAC = '02:00:00:00:0b:01';

/**
 * Issue 23: the web console shows a guest's first boot done as it shows other states,
 * live. The phone-home takes the agent's own path from the metadata service on: the
 * real metadata server (on loopback, its neighbour table saying 127.0.0.1 has the
 * guest's MAC, as the DHCP namespace's would) takes cloud-init's POST and notes it; the
 * agent's PhoneHomeReports, on the hollow agent's own records, reports
 * ReportGuestBooted over NATS as the agent's reporter; the page, open all along, shows it.
 */
describe('web console (/ui): a guest\'s first boot done, live (headless Chromium, real server, hollow agent)', function () {
  this.timeout(120_000);
  const lab = new HollowUiLab();
  const { browser } = lab;
  let t: TestControlPlane;
  let images: ImageServer;
  let hollow: Agent;
  let c: ComputeServiceClient;
  let watch: InstanceWatch;
  let page: Page;
  let nc: NatsConnection;
  let server: http.Server | undefined;
  const cloudInitDir = mkdtempSync(path.join(os.tmpdir(), 'hv-ui-cloud-init-'));

  before(async () => {
    await lab.start({ hostname: 'hollow-boot', supports: ['vm'], cpuCores: 4, memoryGiB: 8 });
    ({ t, images, hollow, c, watch, page } = lab);
    nc = await connect({ servers: t.nats.url });
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') lab.printLog();
  });
  after(async () => {
    server?.close();
    await nc?.close();
    await lab.stop();
    rmSync(cloudInitDir, { recursive: true, force: true });
  });

  it('marks the instance\'s row and page "first boot done" when its cloud-init phones home, with no reload', async () => {
    const created = await call(c, c.createInstance, createRequest('booting', InstanceType.INSTANCE_TYPE_VM, { kernel: images.url('vmlinuz'), initrd: images.url('initramfs.cpio.gz'), memoryBytes: 256 * MiB }, { preferredNodeId: hollow.nodeId }));
    const vm: Instance = (await watch.state(created.id, InstanceState.INSTANCE_STATE_RUNNING, 60_000)).instance!;
    assert.equal(vm.stateReason, '', 'nothing said before the guest phoned home');

    const row = `#instances tr[data-instance-id="${vm.id}"][data-state="RUNNING"]`;
    await page.goto(`http://127.0.0.1:${t.cp.httpPort}/ui/`);
    await page.waitForSelector(row);
    await page.waitForSelector('#live[data-live="live"]');
    assert.equal(await page.getAttribute(row, 'data-first-boot'), null, 'not shown as booted before it phoned home');
    // A reload would lose this mark; requests other than the watches would be polling.
    await page.evaluate(() => ((globalThis as unknown as { hvNoReload: boolean }).hvNoReload = true));
    const later: string[] = [];
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (u.pathname.startsWith('/ui/api/') && !u.pathname.startsWith('/ui/api/watch/')) later.push(`${r.method()} ${u.pathname}`);
    });

    // The guest's record as the agent keeps it for the metadata service, with a port on the subnet the server answers.
    const guests = new GuestRecords(cloudInitDir);
    guests.put({
      instanceId: vm.id,
      kind: 'vm',
      name: vm.name,
      annotations: {},
      network: {
        networks: [],
        securityGroups: [],
        ports: [{ id: 'p-1', networkId: 'n-1', subnetId: SUBNET, instanceId: vm.id, mac: MAC, ip: '127.0.0.1', prefixLength: 8, gateway: '', mtu: 1500, securityGroups: [], bindingType: 'unspecified', hostname: vm.name }],
      },
    });
    const arp = `IP address       HW type     Flags       HW address            Mask     Device\n127.0.0.1        0x1         0x2         ${MAC}     *        lo\n`;
    const srv = metadataServer({ subnetId: SUBNET, guestsDir: guests.guestsDir, phoneHomeDir: guests.phoneHomeDir, arpTable: () => arp });
    server = srv;
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    // What cloud-init's phone_home module posts (instance_id and hostname, form-encoded).
    const posted = await fetch(`http://127.0.0.1:${(srv.address() as AddressInfo).port}${PHONE_HOME_PATH}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: `instance_id=${vm.id}&hostname=booting`,
    });
    assert.equal(posted.status, 200, await posted.text());
    assert.deepEqual(guests.phonedHome().map((p) => p.instanceId), [vm.id], 'the metadata server noted it for the guest it identified');

    // The agent's reporter of phone-homes, on the hollow agent's own records of its instances.
    const store = new LocalStore(hollow.cfg.stateDir);
    await store.load();
    const reports = new PhoneHomeReports(guests, store, new Reporter(new CommandBus(nc), `system:agent/${hollow.cfg.hostname}`, pino({ level: 'silent' })), pino({ level: 'silent' }));
    await reports.once();
    assert.deepEqual(guests.phonedHome(), [], 'reported, so not reported again');

    await page.waitForSelector(`${row}[data-first-boot="done"]`, { timeout: 20_000 });
    assert.match((await page.textContent(`${row} .reason.first-boot`)) ?? '', /^first boot done \(cloud-init phoned home at \d{4}-\d\d-\d\dT/);
    assert.equal(await page.evaluate(() => (globalThis as unknown as { hvNoReload?: boolean }).hvNoReload), true, 'the page was not reloaded');
    assert.deepEqual(later, [], 'it came through the page\'s watch');
    await browser.screenshot(page, 'ui-first-boot.png');

    // Its own page says so too, and its history holds the event.
    await page.click(`${row} a.name`);
    await page.waitForSelector('#detail-state[data-state="RUNNING"][data-first-boot="done"]');
    await page.waitForSelector('#history tr[data-event-type="InstanceGuestBooted"]');
    assert.match((await page.textContent('.details')) ?? '', /first boot done \(cloud-init phoned home at /);
  });
});
