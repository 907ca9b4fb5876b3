#!/usr/bin/env bash
# Builds a Debian cloud-style disk image from Debian's packages, the kind of image users
# bring (cloud-init, openssh-server, the cloud kernel), for the cloud-init tests and bench:
#   debian-cloud.qcow2   MBR disk: p1 FAT32 ESP (type ef, active) holding the kernel, the
#                        initrd, GRUB as EFI/BOOT/BOOTX64.EFI (UEFI) and SYSLINUX (BIOS);
#                        p2 ext4 root labelled hvroot, last, so cloud-init's growpart grows it.
# Output dir: $1, else $HV_CLOUD_IMAGE_DIR, else <repo>/.cache/cloud-image.
# Cached as build-test-guest.sh is: a stamp records the suite and this script; a second build
# started meanwhile waits on the lock and then finds the image. Only apt fetches anything.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-${HV_CLOUD_IMAGE_DIR:-$repo/.cache/cloud-image}}
mkdir -p "$out"
out=$(cd "$out" && pwd)
# stdout carries only the output dir (callers read it); everything the tools print goes to stderr.
exec 3>&1 1>&2

suite=bookworm
mirror=${HV_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${HV_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
packages=(mmdebstrap qemu-utils e2fsprogs dosfstools mtools fdisk grub-efi-amd64-bin grub-common syslinux syslinux-common)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }
missing=()
for p in "${packages[@]}"; do installed "$p" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "build-cloud-image: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Test files run in parallel: an install started by another waits for dpkg's lock instead of failing.
  apt-get install -y -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}" >&2 ||
    { apt-get update -o DPkg::Lock::Timeout=600 >&2 && apt-get install -y -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}" >&2; }
fi

stamp="suite=$suite script=$(sha256sum "$0" | cut -d' ' -f1)"

exec 9>"$out/.lock"
flock 9

if [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$stamp" ] && [ -s "$out/debian-cloud.qcow2" ]; then
  echo "$out" >&3
  exit 0
fi

work=$(mktemp -d "$out/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root

# What a Debian genericcloud image has, less what a test never meets (locales, docs,
# recommends): ifupdown + isc-dhcp-client are what cloud-init's ENI renderer drives on
# bookworm; cloud-guest-utils brings growpart; curl lets a test ask the metadata service.
include=linux-image-cloud-amd64,initramfs-tools,systemd-sysv,udev,dbus,cloud-init,cloud-guest-utils,
include+=openssh-server,sudo,locales,ifupdown,isc-dhcp-client,iproute2,netbase,e2fsprogs,curl,ca-certificates
mmdebstrap --variant=apt --mode=root --aptopt='APT::Install-Recommends "false"' \
  --include="$include" \
  --customize-hook='echo "LABEL=hvroot / ext4 errors=remount-ro 0 1" >"$1/etc/fstab"' \
  --customize-hook='printf "virtio_pci\nvirtio_blk\nvirtio_net\next4\n" >>"$1/etc/initramfs-tools/modules"' \
  --customize-hook='chroot "$1" update-initramfs -u' \
  --customize-hook='rm -f "$1"/etc/ssh/ssh_host_*_key* "$1/etc/hostname"' \
  --customize-hook='printf "# C.UTF-8 is always there: no locale to generate on first boot\nlocale: C.UTF-8\n" >"$1/etc/cloud/cloud.cfg.d/90-hv-locale.cfg"' \
  --customize-hook='printf "# One host key, the type ssh prefers: generating RSA 3072, DSA and ECDSA ones took 17 s of a 150 s first boot under TCG\nssh_genkeytypes: [ed25519]\n" >"$1/etc/cloud/cloud.cfg.d/91-hv-host-keys.cfg"' \
  --customize-hook='printf "auto lo\niface lo inet loopback\n\nsource /etc/network/interfaces.d/*\n" >"$1/etc/network/interfaces"' \
  "$suite" "$root" "deb $mirror $suite main" "deb $mirror $suite-updates main" \
  "deb $security $suite-security main" </dev/null >&2

# Debian's kernel package points /vmlinuz and /initrd.img at the installed kernel.
kernel=$(readlink -f "$root/vmlinuz" 2>/dev/null || true)
initrd=$(readlink -f "$root/initrd.img" 2>/dev/null || true)
case $kernel in "$root"/boot/vmlinuz-*) ;; *) kernel=$(ls -1 "$root"/boot/vmlinuz-* | sort -V | tail -n 1) ;; esac
case $initrd in "$root"/boot/initrd.img-*) ;; *) initrd=$(ls -1 "$root"/boot/initrd.img-* | sort -V | tail -n 1) ;; esac
[ -s "$kernel" ] && [ -s "$initrd" ] || { echo "build-cloud-image: no kernel or initrd in the root" >&2; exit 1; }

cmdline="root=LABEL=hvroot ro console=tty0 console=ttyS0,115200"
cat >"$work/grub.cfg" <<EOF
set timeout=0
search --no-floppy --label HVEFI --set=root
linux /vmlinuz $cmdline
initrd /initrd.img
boot
EOF
cat >"$work/syslinux.cfg" <<EOF
SERIAL 0 115200
DEFAULT linux
PROMPT 0
LABEL linux
  KERNEL /vmlinuz
  APPEND initrd=/initrd.img $cmdline
EOF
grub-mkstandalone -O x86_64-efi -o "$work/bootx64.efi" \
  --modules="part_msdos part_gpt fat search search_label linux normal" \
  "boot/grub/grub.cfg=$work/grub.cfg"

# The ESP (and BIOS boot partition) as a file, filled with mtools: nothing is mounted.
esp_mib=128
mkfs.vfat -F 32 -n HVEFI -C "$work/esp.img" $((esp_mib * 1024)) >/dev/null
mmd -i "$work/esp.img" ::/EFI ::/EFI/BOOT
mcopy -i "$work/esp.img" "$work/bootx64.efi" ::/EFI/BOOT/BOOTX64.EFI
mcopy -i "$work/esp.img" "$kernel" ::/vmlinuz
mcopy -i "$work/esp.img" "$initrd" ::/initrd.img
mcopy -i "$work/esp.img" "$work/syslinux.cfg" ::/syslinux.cfg
syslinux --install "$work/esp.img"

# The root: used size plus room for a first boot; the instance's disk size grows it later.
root_mib=$(($(du -sm "$root" | cut -f1) * 13 / 10 + 256))
mke2fs -q -F -t ext4 -L hvroot -d "$root" "$work/root.img" "${root_mib}M"

disk=$work/disk.raw
truncate -s $((1 + esp_mib + root_mib))M "$disk"
sfdisk -q "$disk" <<EOF
label: dos
start=1MiB, size=${esp_mib}MiB, type=ef, bootable
start=$((1 + esp_mib))MiB, type=83
EOF
dd if=/usr/lib/syslinux/mbr/mbr.bin of="$disk" bs=440 count=1 conv=notrunc status=none
dd if="$work/esp.img" of="$disk" bs=1M seek=1 conv=notrunc,sparse status=none
dd if="$work/root.img" of="$disk" bs=1M seek=$((1 + esp_mib)) conv=notrunc,sparse status=none

qemu-img convert -f raw -O qcow2 "$disk" "$work/debian-cloud.qcow2"
mv -f "$work/debian-cloud.qcow2" "$out/debian-cloud.qcow2"
echo "$stamp" >"$out/stamp"
echo "$out" >&3
