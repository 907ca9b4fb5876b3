import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { InstanceState, InstanceType } from '../../src/gen/hypervisor/v1/common';
import { CreateVolumeRequest, StorageServiceClient, VolumeStatus } from '../../src/gen/hypervisor/v1/storage';
import { TestBrowser } from '../support/browser';
import { createRequest, MiB } from '../support/compute';
import { call, until } from '../support/control-plane';
import { OneNodeLab } from '../support/one-node-lab';

describe('web console: the volumes page and an instance\'s volumes (headless Chromium)', function () {
  this.timeout(120_000);
  const lab = new OneNodeLab({ leaseTtlSeconds: 3600 });
  const browser = new TestBrowser();
  let page: Page;
  let base = '';

  before(async () => {
    await lab.start({ hostname: 'ui-volumes' });
    await browser.start();
    page = await browser.page();
    base = `http://127.0.0.1:${lab.t.cp.httpPort}/ui/`;
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.log(browser.log.slice(-30).join('\n'));
  });
  after(async () => {
    await browser.stop();
    await lab.stop();
  });

  it('lists volumes with size and status; an instance\'s page shows the volume attached to it', async () => {
    const s = lab.t.client(StorageServiceClient);
    const v = await call(s, s.createVolume, CreateVolumeRequest.fromPartial({ name: 'ui-data', sizeBytes: BigInt(48 * MiB) }));
    await until('AVAILABLE', async () => (await call(s, s.getVolume, { volumeId: v.id })).status === VolumeStatus.VOLUME_STATUS_AVAILABLE || undefined, 30_000);
    await page.goto(`${base}#/volumes`);
    const row = `#volumes tr[data-volume-id="${v.id}"]`;
    await page.waitForSelector(`${row}[data-status="AVAILABLE"]`);
    assert.match((await page.textContent(row)) ?? '', /ui-data.*48MiB.*AVAILABLE/s);

    const i = await call(lab.c, lab.c.createInstance, createRequest('ui-vm', InstanceType.INSTANCE_TYPE_VM, { kernel: lab.images.url('vmlinuz'), initrd: lab.images.url('initramfs.cpio.gz'), memoryBytes: 256 * MiB }));
    await lab.watch.state(i.id, InstanceState.INSTANCE_STATE_RUNNING, 90_000);
    await call(s, s.attachVolume, { volumeId: v.id, instanceId: i.id, devicePath: '' });
    await page.goto(`${base}#/instances/${i.id}`);
    await page.waitForSelector(`#instance-volumes tr[data-volume-id="${v.id}"][data-status="IN_USE"]`, { timeout: 20_000 });
    assert.match((await page.textContent('#instance-volumes')) ?? '', /ui-data.*IN_USE.*\/dev\/vdb/s);
    await browser.screenshot(page, 'ui-instance-volumes.png');
  });
});
