#!/usr/bin/env bash
# Builds the small guest that the QEMU driver's tests and benches boot:
#   vmlinuz            the Debian cloud kernel (linux-image-cloud-amd64)
#   initramfs.cpio.gz  busybox-static; prints HV-GUEST-READY on ttyS0, then a shell
#   disk.raw           16 MiB ext4, a base image for qcow2 overlays
# Output dir: $1, else $HV_CACHE_DIR, else <repo>/.cache/test-guest.
# Cached: a stamp records the kernel, busybox and this script; when it matches,
# the script only prints the output dir. Only apt is used to fetch anything.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-${HV_CACHE_DIR:-$repo/.cache/test-guest}}
mkdir -p "$out"
out=$(cd "$out" && pwd)

packages=(qemu-system-x86 qemu-utils busybox-static linux-image-cloud-amd64 e2fsprogs)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }

ensure_packages() {
  local missing=() p
  for p in "${packages[@]}"; do installed "$p" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "build-test-guest: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # The package lists may be stale or absent on a fresh machine; refresh only then.
  # Test files run in parallel: an install started by another waits for dpkg's lock instead of failing.
  apt-get install -y -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}" >&2 ||
    { apt-get update -o DPkg::Lock::Timeout=600 >&2 && apt-get install -y -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}" >&2; }
}

ensure_packages

# Newest cloud kernel, in case several are installed.
kernel=$(ls -1 /boot/vmlinuz-*-cloud-amd64 2>/dev/null | sort -V | tail -n 1 || true)
[ -n "$kernel" ] || { echo "build-test-guest: no /boot/vmlinuz-*-cloud-amd64" >&2; exit 1; }
kver=${kernel#/boot/vmlinuz-}
moddir=/lib/modules/$kver
busybox=/bin/busybox
[ -x "$busybox" ] || busybox=$(command -v busybox)

stamp="kernel=$kver busybox=$(dpkg-query -W -f='${Version}' busybox-static) script=$(sha256sum "$0" | cut -d' ' -f1)"

# Two test runs may build at once; the second waits and then finds the cache warm.
exec 9>"$out/.lock"
flock 9

if [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$stamp" ] &&
  [ -s "$out/vmlinuz" ] && [ -s "$out/initramfs.cpio.gz" ] && [ -s "$out/disk.raw" ]; then
  echo "$out"
  exit 0
fi

work=$(mktemp -d "$out/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,tmp,root,mnt,var/log,var/run,lib/modules,etc/acpi/PWRF}

cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
  case $applet in busybox) continue ;; esac
  ln -sf busybox "$root/bin/$applet"
done
ln -sf ../bin/busybox "$root/sbin/init"

# virtio is modular in the cloud kernel: virtio-pci for q35, virtio-mmio for
# microvm, virtio-blk for the disk. button+evdev let acpid see the ACPI power
# button that QMP system_powerdown presses, so a stop can be graceful.
# insmod knows no dependencies, so order them from modules.dep (deps first).
mods=()
add_module() {
  local rel deps d m=$1
  case " ${mods[*]} " in *" $m "*) return 0 ;; esac
  rel=$(awk -F: -v m="$m" '{ n = $1; sub(/.*\//, "", n); sub(/\.ko.*/, "", n); if (n == m) { print $1; exit } }' "$moddir/modules.dep")
  [ -n "$rel" ] || { echo "build-test-guest: module $m not in $moddir/modules.dep" >&2; exit 1; }
  deps=$(awk -F: -v r="$rel" '$1 == r { print $2; exit }' "$moddir/modules.dep")
  for d in $deps; do d=${d##*/}; add_module "${d%%.ko*}"; done
  case $rel in
  *.ko.xz) xz -dc "$moddir/$rel" >"$root/lib/modules/$m.ko" ;;
  *.ko.zst) zstd -qdc "$moddir/$rel" >"$root/lib/modules/$m.ko" ;;
  *) cp "$moddir/$rel" "$root/lib/modules/$m.ko" ;;
  esac
  mods+=("$m")
}
# virtio_net (with failover, net_failover) for the NIC the data plane gives a port.
for m in virtio_pci virtio_mmio virtio_blk virtio_net button evdev; do add_module "$m"; done

cat >"$root/init" <<EOF
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts
mount -t devpts devpts /dev/pts
for m in ${mods[*]}; do insmod /lib/modules/\$m.ko 2>/dev/null; done
# Only emergencies from the kernel on ttyS0 from here on: the tests parse what their
# commands print there, and a late kernel notice must not land in the middle of it.
dmesg -n 1
acpid -c /etc/acpi
ip link set lo up
# A NIC (a port of the data plane): its address, gateway and MTU come by DHCP.
# udhcpc stays in the foreground of its own background job, renewing the lease.
if [ -e /sys/class/net/eth0 ]; then
  ip link set eth0 up
  udhcpc -f -i eth0 -O mtu -t 60 -T 1 -s /etc/udhcpc.sh >/tmp/udhcpc.log 2>&1 &
fi
exec /sbin/init
EOF
chmod 755 "$root/init"

# busybox udhcpc only runs a script with what the server offered; this one
# configures eth0 and leaves the lease in /tmp/lease for tests to read.
cat >"$root/etc/udhcpc.sh" <<'EOF'
#!/bin/sh
case "$1" in
deconfig) ip addr flush dev "$interface" ;;
bound | renew)
  ip addr flush dev "$interface"
  ip addr add "$ip/$mask" dev "$interface"
  [ -n "$mtu" ] && ip link set "$interface" mtu "$mtu"
  [ -n "$router" ] && ip route replace default via "${router%% *}" dev "$interface"
  # Announce the address, as Red Hat's dhclient-script does: it may have been another guest's a moment ago.
  [ "$1" = bound ] && arping -U -c 1 -I "$interface" "$ip" >/dev/null 2>&1 &
  echo "LEASE ip=$ip/$mask mtu=$mtu router=$router" >/tmp/lease
  ;;
esac
EOF
chmod 755 "$root/etc/udhcpc.sh"

# busybox init: respawns the console shell if it exits, and powers off
# cleanly on SIGUSR2 (what busybox poweroff sends).
cat >"$root/etc/inittab" <<'EOF'
ttyS0::respawn:/etc/console.sh
::shutdown:/bin/sync
EOF

# The marker is printed by the process that holds ttyS0 open, right before the
# shell reads it, so a command typed after the marker is never lost.
cat >"$root/etc/console.sh" <<'EOF'
#!/bin/sh
export PS1='# ' HOME=/root PATH=/bin:/sbin
cd /root
echo HV-GUEST-READY
exec /bin/sh
EOF
chmod 755 "$root/etc/console.sh"

cat >"$root/etc/acpi/PWRF/00000080" <<'EOF'
#!/bin/sh
poweroff
EOF
chmod 755 "$root/etc/acpi/PWRF/00000080"

(cd "$root" && find . | sort | "$busybox" cpio -o -H newc 2>/dev/null) | gzip -9 >"$work/initramfs.cpio.gz"

mkdir -p "$work/disk"
echo "hv test disk" >"$work/disk/README"
truncate -s 16M "$work/disk.raw"
mke2fs -q -F -t ext4 -L hvtest -d "$work/disk" "$work/disk.raw"

cp "$kernel" "$work/vmlinuz"
for f in vmlinuz initramfs.cpio.gz disk.raw; do mv -f "$work/$f" "$out/$f"; done
echo "$stamp" >"$out/stamp"
echo "$out"
