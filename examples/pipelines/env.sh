# Sourced by the examples: finds the uninstalled plugins and tools of a
# build in ../../build (after `meson setup build && ninja -C build`; another
# with VSS_BUILD_ROOT=/path/to/build), and sets
# the defaults every example shares. Installed plugins need none of this.
#   VALKEY   Valkey URL            (default redis://127.0.0.1:6379)
#   FRAMES   where JPEGs are kept  (default file://$PWD/vss-frames)
#   STREAM   stream id             (default depends on the example)
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${VSS_BUILD_ROOT:-$root/build}
if [ -d "$build/plugins" ]; then
  GST_PLUGIN_PATH=$(printf '%s:' "$build"/plugins/*)${GST_PLUGIN_PATH:-}
  export GST_PLUGIN_PATH
  PATH="$build/tools:$PATH"
fi
VALKEY=${VALKEY:-redis://127.0.0.1:6379}
FRAMES=${FRAMES:-file://$PWD/vss-frames}
# A Valkey with vector search must be listening (see the README, "Local
# Valkey"); say so plainly instead of letting vsssink fail later.
need_valkey() {
  local hostport=${VALKEY#*://}
  hostport=${hostport##*@}
  hostport=${hostport%%/*}
  hostport=${hostport%%\?*}
  local host=${hostport%:*} port=${hostport##*:}
  [ "$host" = "$hostport" ] && port=6379
  if ! redis-cli -h "$host" -p "$port" ping >/dev/null 2>&1; then
    echo "$(basename "$0"): nothing answers at $VALKEY; start a server as the README says" \
      "(\"Local Valkey\"), or set VALKEY=redis://host:port" >&2
    exit 3
  fi
}
