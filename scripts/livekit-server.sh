#!/usr/bin/env bash
# Builds the pinned livekit-server from its published Go module (tools/livekit-server) into
# a cache folder outside the repository, when it isn't there yet, and prints its path.
#   scripts/livekit-server.sh          # build if missing, print the binary's path
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
module="$here/tools/livekit-server"
version=$(awk '/github.com\/livekit\/livekit-server v/ {print $2; exit}' "$module/go.mod")
cache=${ANTECHAMBER_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/antechamber}
binary="$cache/livekit-server-$version"

if [ ! -x "$binary" ]; then
  command -v go >/dev/null 2>&1 || { echo "livekit-server: the Go toolchain is needed to build it" >&2; exit 1; }
  mkdir -p "$cache"
  echo "livekit-server: building $version into $cache (about a minute)" >&2
  (cd "$module" && go build -o "$binary.tmp" github.com/livekit/livekit-server/cmd/server)
  mv "$binary.tmp" "$binary"
fi
echo "$binary"
