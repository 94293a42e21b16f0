#!/usr/bin/env bash
# Starts a LiveKit server for local development, on loopback, in development mode, with
# the key pair Antechamber uses and its webhooks pointed at Antechamber. Builds the
# pinned server first when it is missing (scripts/livekit-server.sh). Ctrl-C stops it.
#   scripts/livekit-dev.sh [KEY] [SECRET] [WEBHOOK_URL]
# Defaults match Antechamber's development settings (LIVEKIT_API_KEY/LIVEKIT_API_SECRET
# unset) and `antechamber serve` on http://127.0.0.1:8000.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
key=${1:-${LIVEKIT_API_KEY:-devkey}}
secret=${2:-${LIVEKIT_API_SECRET:-secret-development-only-livekit-key-0123}}
webhook=${3:-http://127.0.0.1:8000/api/v1.0/rooms/webhooks-livekit/}
port=${LIVEKIT_PORT:-7880}

binary=$(bash "$here/scripts/livekit-server.sh")
config=$(mktemp -t livekit-dev.XXXXXX.yaml)
server=
stop() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -f "$config"
}
trap stop EXIT
trap 'exit 130' INT TERM
# Keys and secrets may hold YAML-special characters: quote them as JSON strings.
quote() { python3 -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$1"; }
cat >"$config" <<YAML
port: $port
bind_addresses: ["127.0.0.1"]
rtc:
  tcp_port: $((port + 1))
  udp_port: $((port + 2))
  use_external_ip: false
  node_ip: 127.0.0.1
  enable_loopback_candidate: true
keys:
  $(quote "$key"): $(quote "$secret")
webhook:
  api_key: $(quote "$key")
  urls: [$(quote "$webhook")]
YAML
echo "livekit-server on ws://127.0.0.1:$port, webhooks to $webhook" >&2
# In the background and waited for, so a signal to this script stops the server too.
"$binary" --dev --config "$config" &
server=$!
wait "$server"
