import assert from 'node:assert/strict';
import { kvmHint } from './observe';

describe('qemu crash reasons', () => {
  it('name the setting that avoids a KVM failure, only under KVM and only when QEMU spoke of KVM', () => {
    const line = "kvm.c:3183: kvm_buf_set_msrs: Assertion `ret == cpu->kvm_msr_buf->nmsrs' failed.";
    assert.equal(kvmHint('kvm', line), "; this host's KVM fails this guest: run the agent with --accel tcg (HV_QEMU_ACCEL=tcg)");
    assert.equal(kvmHint('tcg', line), '');
    assert.equal(kvmHint('kvm', 'qemu-system-x86_64: terminating on signal 9'), '');
    assert.equal(kvmHint('kvm', undefined), '');
  });
});
