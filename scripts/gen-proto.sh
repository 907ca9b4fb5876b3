#!/usr/bin/env bash
# The one script that produces generated code: TypeScript (ts-proto, for
# @grpc/grpc-js) into src/gen, and the descriptor image that server
# reflection answers from. Nothing under src/gen is edited by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-.}
buf=node_modules/.bin/buf
rm -rf "$out/src/gen"
if [ "$out" = . ]; then
  "$buf" generate
else
  "$buf" generate --output "$out"
fi
mkdir -p "$out/src/gen"
# Complete FileDescriptorSet (with google/protobuf imports) for reflection.
"$buf" build --as-file-descriptor-set -o "$out/src/gen/descriptors.binpb"
