import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { OciDriver } from './oci-driver';

describe("the OCI driver's look at its containers", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'hv-oci-list-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  // A runc that is not there: any look that runs it fails.
  const driver = () => new OciDriver({ stateDir: dir, runcBinary: path.join(dir, 'no-runc') });

  it('given a host with no container, when it is looked at, then it is empty and no runc is run (the reconcile looks every pass)', async () => {
    assert.deepEqual(await driver().list(), []);
  });

  it('given a container dir on the host, when it is looked at, then runc is asked', async () => {
    mkdirSync(path.join(dir, 'instances', 'c-1'), { recursive: true });
    await assert.rejects(driver().list(), /no-runc is not installed/);
  });
});
