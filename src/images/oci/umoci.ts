import { FailedPrecondition } from '../../errors';
import { lastMessage, runTool } from './run-tool';

/**
 * Unpacks the image's layers, in order, whiteouts applied, into `rootfs`
 * (umoci's `raw unpack`: a root filesystem without a runtime config; the
 * driver writes its own config.json).
 */
export const unpackRootfs = async (layoutDir: string, tag: string, rootfs: string, signal?: AbortSignal): Promise<void> => {
  const res = await runTool('umoci', ['--log', 'error', 'raw', 'unpack', '--image', `${layoutDir}:${tag}`, rootfs], { signal, pkg: 'umoci', dieWithParent: true });
  if (res.code !== 0) throw new FailedPrecondition(`unpacking the image failed: ${lastMessage(res.stderr) || `umoci exited with ${res.code}`}`);
};
