#!/usr/bin/env bash
# The main job on built-in defaults, no AWS account, nothing leaves this
# machine: installs what is needed, builds, starts a local Valkey-compatible
# server (Debian's redis-server with our vss-search module) on a free port,
# ingests a sample clip made from real photographs, searches it by one of
# those photographs, prints the results and where the frames are, and stops
# the server it started.
#
#   tools/main-job.sh                 the sample clip, searched by its first photograph
#   tools/main-job.sh INPUT [IMAGE]   your video (file, URI, rtsp://, /dev/videoN),
#                                     searched by IMAGE (default: its first stored frame)
#   VSS_SKIP_INSTALL=1                do not run tools/install-deps.sh
#   VSS_INGEST_ARGS="--duration 60"   more vss-ingest options (e.g. for a live INPUT)
#
# Everything it makes is under sample/: clip.mkv and clip.json (ground truth),
# frames/ (the stored JPEGs), spool/ (vsssink's journal). The vectors live in
# the server's memory and go when it stops.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

say() { printf '\n== main-job: %s\n' "$*"; }

[ "${VSS_SKIP_INSTALL:-0}" = 1 ] || tools/install-deps.sh

if [ ! -f build/build.ninja ]; then
  say "configuring the build (build/)"
  meson setup build -Dbuildtype=release -Dtests=disabled -Dbench=disabled >/dev/null
fi
say "building"
ninja -C build >/dev/null

module="$here/build/modules/valkey/vss-search.so"
[ -f "$module" ] || { echo "main-job: $module was not built" >&2; exit 1; }
# The uninstalled plugins, whatever state the user's environment is in.
GST_PLUGIN_PATH=$(printf '%s:' "$here"/build/plugins/*)${GST_PLUGIN_PATH:-}
export GST_PLUGIN_PATH

mkdir -p sample
input=${1:-}
image=${2:-}
if [ -z "$input" ]; then
  input="$here/sample/clip.mkv"
  if [ ! -s "$input" ] || [ ! -s sample/clip.json ]; then
    say "making a 60 s sample clip from real photographs -> sample/clip.mkv"
    build/tests/fixtures/vss-make-clip --output "$input" --truth sample/clip.json \
      --duration 60 --width 640 --height 360 --fps 10
  fi
  # Search by the photograph of the first scene.
  [ -n "$image" ] || image=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["scenes"][0]["path"])' sample/clip.json)
fi

# A free loopback port, and a server that is ours alone.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
rm -rf sample/frames sample/spool sample/redis
mkdir -p sample/redis
say "starting redis-server with the vss-search module on 127.0.0.1:$port"
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
  --dir "$here/sample/redis" --loadmodule "$module" \
  --logfile "$here/sample/redis/redis.log" &
server=$!
stop_server() {
  if kill -0 "$server" 2>/dev/null; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    echo "main-job: stopped redis-server (pid $server)"
  fi
}
trap stop_server EXIT
trap 'exit 130' INT TERM
for _ in $(seq 100); do
  redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && break
  kill -0 "$server" 2>/dev/null || { cat sample/redis/redis.log >&2; exit 1; }
  sleep 0.1
done
url="redis://127.0.0.1:$port"

say "vss-ingest $input"
status=0
# shellcheck disable=SC2086
build/tools/vss-ingest "$input" --valkey "$url" --frames "$here/sample/frames" \
  --spool-dir "$here/sample/spool" ${VSS_INGEST_ARGS:-} || status=$?
if [ $status -ne 0 ]; then
  echo "main-job: vss-ingest failed (exit $status)" >&2
  exit $status
fi

if [ -z "$image" ]; then
  image=$(find "$here/sample/frames" -name '*.jpg' | sort | head -1)
  [ -n "$image" ] || { echo "main-job: no frame was stored" >&2; exit 1; }
fi
say "vss-search --image $image"
build/tools/vss-search --valkey "$url" --image "$image" -k 5 \
  --html "$here/sample/results.html"

say "done"
echo "frames:  $here/sample/frames  ($(find "$here/sample/frames" -name '*.jpg' | wc -l) JPEG files)"
echo "results: $here/sample/results.html (thumbnails)"
echo "search again while a server runs: build/tools/vss-search --valkey URL --image PHOTO"
