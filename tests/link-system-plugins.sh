#!/bin/sh
# Makes DIR hold links to the few system GStreamer plugins the tests use, so a
# test process (which scans plugins in-process: GST_REGISTRY_FORK=no, needed
# for sanitizer builds) loads only these, not every plugin on the machine.
# Usage: link-system-plugins.sh SYSTEM_PLUGIN_DIR DIR NAME...
set -e
src=$1; dst=$2; shift 2
mkdir -p "$dst"
rm -f "$dst"/*.so
missing=""
for n in "$@"; do
  if [ -e "$src/libgst$n.so" ]; then
    ln -sf "$src/libgst$n.so" "$dst/libgst$n.so"
  else
    missing="$missing $n"
  fi
done
if [ -n "$missing" ]; then
  echo "missing GStreamer plugins:$missing (run tools/install-deps.sh --tests)" >&2
  exit 1
fi
