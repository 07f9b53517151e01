#!/usr/bin/env bash
# Installs what gst-vss needs on Debian bookworm (run as root, or with sudo).
#   tools/install-deps.sh          build + run (main job)
#   tools/install-deps.sh --tests  also what the tests and benchmarks need
set -euo pipefail

want_tests=0
[ "${1:-}" = "--tests" ] && want_tests=1

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root or install sudo" >&2; exit 1; }
  SUDO="sudo"
fi

build_pkgs=(
  meson ninja-build pkg-config gcc python3
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libglib2.0-dev
  libcurl4-openssl-dev libjansson-dev libhiredis-dev libsimde-dev
  libjpeg62-turbo-dev
  libgstrtspserver-1.0-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
  glib-networking ca-certificates
  redis-server redis-tools
  # Real photographs for the sample clip and the calibration.
  mate-backgrounds plasma-workspace-wallpapers
)
test_pkgs=(
  clang libclang-rt-14-dev openssl libssl-dev ffmpeg valgrind
  # tools/gst-indent (the format test).
  indent git
  dataset-fashion-mnist
  # Patterns, textures, dark and low-contrast pictures (tests/fixtures/photos-hard.txt):
  # the local embedding's calibration and the second dedup-quality clip.
  gnome-backgrounds ukui-wallpapers
  # vss-search --html is checked by rendering the page (tests/integration).
  chromium
)
# s3rver needs Node.js and npm: Debian's, unless the machine already has its own
# (Debian's npm would conflict with a Node.js installed from elsewhere).
command -v npm >/dev/null 2>&1 || test_pkgs+=(nodejs npm)

pkgs=("${build_pkgs[@]}")
[ $want_tests = 1 ] && pkgs+=("${test_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Redis must not run as a system service during tests (they start their own).
if command -v systemctl >/dev/null && systemctl is-active --quiet redis-server 2>/dev/null; then
  $SUDO systemctl stop redis-server || true
fi

if [ $want_tests = 1 ]; then
  here=$(cd "$(dirname "$0")/.." && pwd)
  if [ ! -x "$here/tests/node_modules/.bin/s3rver" ]; then
    echo "install-deps: installing s3rver (npm) into tests/node_modules"
    npm install --prefix "$here/tests" --no-audit --no-fund --loglevel=error >/dev/null
  fi
fi
echo "install-deps: ok"
