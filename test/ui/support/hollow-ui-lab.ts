import type { Page } from 'playwright-core';
import type { Agent } from '../../../src/agent/agent';
import { ComputeServiceClient } from '../../../src/gen/hypervisor/v1/compute';
import { freePort } from '../../../src/nats/embedded-nats-server';
import { removeStateDir, startAgent } from '../../support/agent';
import { TestBrowser } from '../../support/browser';
import { InstanceWatch, MiB } from '../../support/compute';
import { TestControlPlane } from '../../support/control-plane';
import { ImageServer, testGuestDir } from '../../support/image-server';

const GiB = 1024 * MiB;

/** Which kinds the lab's hollow agent runs, and what it offers. */
export interface HollowUiLabOptions {
  hostname: string;
  supports: ('vm' | 'microvm' | 'container')[];
  cpuCores: number;
  memoryGiB: number;
}

/**
 * What the web console's tests of a development-mode server stand on: the test guest's
 * images served, a server on fixed ports (so a page finds it again after a restart), one
 * hollow agent, a watch of every instance, and a headless Chromium with one page open.
 */
export class HollowUiLab {
  images!: ImageServer;
  t!: TestControlPlane;
  hollow!: Agent;
  c!: ComputeServiceClient;
  watch!: InstanceWatch;
  readonly browser = new TestBrowser();
  page!: Page;

  async start(o: HollowUiLabOptions): Promise<this> {
    this.images = await new ImageServer(testGuestDir()).start();
    this.t = await new TestControlPlane({ grpcPort: await freePort(), httpPort: await freePort() }).start();
    this.hollow = await startAgent(this.t, {
      driver: 'hollow',
      hollow: { supports: o.supports },
      hostname: o.hostname,
      capacity: { cpuCores: o.cpuCores, memoryBytes: o.memoryGiB * GiB, diskBytes: 100 * GiB },
    });
    this.c = this.t.client(ComputeServiceClient);
    this.watch = new InstanceWatch(this.c);
    await this.browser.start();
    this.page = await this.browser.page();
    return this;
  }

  /** The console's address on this server. */
  get base(): string {
    return `http://127.0.0.1:${this.t.cp.httpPort}/ui/`;
  }

  /** The test guest's kernel and initramfs, as a create's boot source (256 MiB). */
  guest(): { kernel: string; initrd: string; memoryBytes: number } {
    return { kernel: this.images.url('vmlinuz'), initrd: this.images.url('initramfs.cpio.gz'), memoryBytes: 256 * MiB };
  }

  /** The page's last lines, for a failed test's output. */
  printLog(): void {
    console.log(this.browser.log.slice(-30).join('\n'));
  }

  /** Stops what start made, whatever part of it was made. */
  async stop(): Promise<void> {
    this.watch?.close();
    await this.browser.stop();
    await this.hollow?.stop();
    await this.t?.stop();
    await this.images?.stop();
    if (this.hollow) removeStateDir(this.hollow);
  }
}
