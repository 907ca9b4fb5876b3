#!/usr/bin/env bash
# Idempotent setup, run before `npm start` and `npm test`: system packages,
# npm dependencies, build. Quick when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages this project runs (nats-server) or drives (QEMU, iproute2, nftables,
# runc with skopeo/umoci/docker-registry for containers, ...); tmux gives the CLI's console
# test a pseudo-terminal, zsh runs its completion test; chromium is the headless browser the
# web console's tests drive; arping announces containers' addresses; iperf3 measures the
# data plane's throughput (bench/); openssl makes the self-signed certificate of a registry test;
# conntrack clears a released floating IP's connection state in its router;
# e2fsprogs makes the ext4 file system of volumes that containers mount;
# ovmf is the UEFI firmware of cloud images that need it, genisoimage makes their NoCloud seeds;
# fdisk's sfdisk writes the partition tables the boot-firmware test reads back; protoc with gRPC's
# Python plugin, the well-known types and Debian's python3-grpcio make the foreign client of
# test/proto/foreign-client.test.ts from proto/; curl waits for the README's image server.
PACKAGES=(nats-server qemu-system-x86 qemu-utils ovmf genisoimage fdisk busybox-static linux-image-cloud-amd64 iproute2 nftables dnsmasq cpio runc skopeo umoci docker-registry python3 tmux zsh chromium iputils-ping iputils-arping iperf3 openssl conntrack e2fsprogs protobuf-compiler protobuf-compiler-grpc libprotobuf-dev python3-grpcio python3-protobuf curl)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
    echo "setup: missing system packages: ${missing[*]} (run as root to install them)" >&2
    exit 1
  fi
  SUDO=$([ "$(id -u)" -eq 0 ] && echo "" || echo sudo)
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >&2
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# npm dependencies, when package-lock.json changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund >&2
fi

# Generated code is committed; regenerate only when a proto is newer than it.
if [ -n "$(find proto buf.yaml buf.gen.yaml -newer src/gen/descriptors.binpb -print -quit 2>/dev/null)" ] || [ ! -f src/gen/descriptors.binpb ]; then
  echo "setup: generating code from proto/" >&2
  bash scripts/gen-proto.sh >&2
fi

# Incremental TypeScript build into dist/, skipped when no source, directory (a file added
# or removed), config or dependency is newer than the last build: even a no-op tsc takes
# seconds here, and `npm start` runs this every time.
stamp=dist/.tsbuildinfo
if [ ! -f "$stamp" ] || [ -n "$(find src test bench examples tsconfig.json package.json node_modules/.package-lock.json -newer "$stamp" -print -quit 2>/dev/null)" ]; then
  if [ -f "$stamp" ]; then echo "setup: building what changed (tsc -> dist/)" >&2
  else echo "setup: first build: compiling the TypeScript into dist/ (about a minute; later starts only rebuild what changed)" >&2; fi
  npx --no-install tsc -p tsconfig.json >&2
  # tsc leaves the file alone when nothing it emits changed: mark this check as done anyway.
  touch "$stamp"
fi

# The web console (ui/, served at /ui): type-checked, then bundled by Vite into dist/ui,
# only when its sources or the dependencies changed since the last build.
if [ ! -f dist/ui/index.html ] || [ -n "$(find ui package-lock.json -newer dist/ui/index.html -print -quit)" ]; then
  echo "setup: building the web console (ui/ -> dist/ui, about half a minute)" >&2
  npx --no-install tsc -p ui/tsconfig.json >&2
  npx --no-install vite build ui --logLevel warn >&2
fi
