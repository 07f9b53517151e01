#!/usr/bin/env bash
# The main job on built-in defaults, no AWS account: installs what is needed,
# builds, makes a sample clip from real photographs and runs vss-ingest on it.
#   tools/main-job.sh [INPUT]   ingest INPUT instead of the sample clip
#   VSS_SKIP_INSTALL=1          do not run tools/install-deps.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

[ "${VSS_SKIP_INSTALL:-0}" = 1 ] || tools/install-deps.sh

if [ ! -d build ]; then
  meson setup build -Dbuildtype=release -Dtests=disabled -Dbench=disabled >/dev/null
fi
ninja -C build >/dev/null

input=${1:-}
if [ -z "$input" ]; then
  mkdir -p "$here/sample"
  input="$here/sample/clip.mkv"
  if [ ! -s "$input" ]; then
    echo "main-job: making a 60 s sample clip from real photographs -> $input"
    build/tools/vss-make-clip --output "$input" --truth "$here/sample/clip.json" \
      --duration 60 --width 640 --height 360 --fps 10
  fi
fi

echo "main-job: vss-ingest $input (provider local, 1 frame per second)"
exec meson devenv -C build tools/vss-ingest --interval 1 "$input"
