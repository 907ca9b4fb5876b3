import { LocalRegistry } from '../containers/support/registry';
import { buildTestImage, type TestImage } from '../containers/support/test-image';
import type { NetnsHosts } from '../support/netns-hosts';

/**
 * The containers' test image in a registry the agents of a DataplaneLab
 * reach: the agents are in host namespaces, so it listens on the lab's root
 * address, and they are told it speaks plain HTTP (--oci-insecure-registry).
 *
 *   const reg = new LabRegistry();
 *   before(() => t.start(2, reg.labOptions()));
 *   after(async () => { await t.stop(); await reg.stop(); });
 */
export class LabRegistry {
  private registry?: LocalRegistry;
  private image?: TestImage;
  /** oci://… of the test image (busybox), once the lab has started. */
  ref = '';

  labOptions() {
    return {
      prepare: async (lab: NetnsHosts) => {
        this.image = buildTestImage();
        this.registry = await new LocalRegistry(lab.rootIp).start();
        this.registry.push(this.image.layout, this.image.tag, `${lab.token}/busybox`, '1');
        this.ref = `oci://${this.registry.address}/${lab.token}/busybox:1`;
      },
      agentArgs: () => ['--oci-insecure-registry', this.registry!.address],
    };
  }

  async stop(): Promise<void> {
    await this.registry?.stop();
    this.image?.remove();
  }
}
