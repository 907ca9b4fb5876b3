import assert from 'node:assert/strict';
import { isVolumeDevice, launchPorts, volumeBlockdev, volumeDevice, volumeDeviceArgs, volumeLaunchArgs, volumeNode, volumeObjects, volumeSerial } from './block-spec';

const id = '7f6bca78-8606-54cc-8718-b0aa3838fd93';
const spec = { volumeId: id, path: '/pool/volumes/v.qcow2', iopsLimit: 100, throughputLimit: 1 << 20 };

describe('a volume in QEMU (block-spec)', () => {
  it('names fit QEMU: node names of at most 31 characters, a 20-byte virtio serial', () => {
    assert.equal(volumeNode(id), 'vol-7f6bca78860654cc8718b0aa');
    assert.ok(volumeNode(id).length <= 31);
    assert.equal(volumeSerial(id), '7f6bca78860654cc8718');
    assert.equal(volumeDevice(id), 'vol-7f6bca78860654cc8718b0aa-dev');
    assert.ok(isVolumeDevice(volumeDevice(id)));
    assert.ok(!isVolumeDevice('disk0-dev'));
  });
  it('a throttle filter over the qcow2 over the file; LUKS inside the qcow2 only with a key file', () => {
    const b = volumeBlockdev(spec) as { driver: string; 'throttle-group': string; file: { driver: string; encrypt?: unknown; file: { filename: string } } };
    assert.deepEqual([b.driver, b['throttle-group'], b.file.driver, b.file.file.filename, b.file.encrypt], ['throttle', `${volumeNode(id)}-tg`, 'qcow2', spec.path, undefined]);
    const e = volumeBlockdev({ ...spec, keyFile: '/keys/k1' }) as { file: { encrypt: unknown } };
    assert.deepEqual(e.file.encrypt, { format: 'luks', 'key-secret': `${volumeNode(id)}-key` });
    // The key is read by QEMU from its file: only the file's name is in any argument.
    assert.deepEqual(volumeObjects({ ...spec, keyFile: '/keys/k1' })[0], { 'qom-type': 'secret', id: `${volumeNode(id)}-key`, file: '/keys/k1', format: 'raw' });
    assert.deepEqual(volumeObjects(spec), [{ 'qom-type': 'throttle-group', id: `${volumeNode(id)}-tg`, limits: { 'iops-total': 100, 'bps-total': 1 << 20 } }]);
  });
  it('q35: virtio-blk-pci in slot 0 of a hot-plug port; microvm: virtio-blk-device', () => {
    assert.deepEqual(volumeDeviceArgs(spec, 'q35', 'hp3'), { driver: 'virtio-blk-pci', id: volumeDevice(id), drive: volumeNode(id), serial: volumeSerial(id), bus: 'hp3', addr: '0' });
    assert.deepEqual(volumeDeviceArgs(spec, 'microvm'), { driver: 'virtio-blk-device', id: volumeDevice(id), drive: volumeNode(id), serial: volumeSerial(id) });
    const argv = volumeLaunchArgs([spec, { ...spec, volumeId: '00000000-0000-4000-8000-000000000001' }], 'q35');
    const devices = argv.filter((_, i) => argv[i - 1] === '-device').map((d) => JSON.parse(d).bus);
    assert.deepEqual(devices, ['hp0', 'hp1']);
  });
  it('q35 launch ports: each volume where it was last reported, the others on the first free ports in order', () => {
    assert.deepEqual(launchPorts([{}, {}, {}]), ['hp0', 'hp1', 'hp2']);
    // B was hot-plugged on hp1 and A (hp0) detached since: B stays on hp1, as on the source of a move.
    assert.deepEqual(launchPorts([{ bus: 'hp1' }]), ['hp1']);
    assert.deepEqual(launchPorts([{}, { bus: 'hp0' }, {}]), ['hp1', 'hp0', 'hp2']);
    // Not a port, or the same port twice: treated as unknown, never two disks on one port.
    assert.deepEqual(launchPorts([{ bus: 'pcie.0' }, { bus: 'hp2' }, { bus: 'hp2' }]), ['hp0', 'hp2', 'hp1']);
  });
});
