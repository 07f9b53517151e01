#!/usr/bin/env bash
# gst-vss example: live alerts with vssquery.
#
#   examples/pipelines/live-alerts.sh SOURCE REFERENCE.jpg [THRESHOLD]
#
# SOURCE is a file, a URI (file://, rtsp://, http://) or "webcam". Every
# second, a frame is embedded (provider=local, no network) and compared with
# the reference picture; a frame within THRESHOLD (cosine distance, default
# 0.15) prints one alert line, at most one every 10 s unless a closer frame
# comes. For text queries ("a person in a red jacket"), use
# provider=bedrock on both vssembed and vssquery (AWS account needed).
#
# Uninstalled: run from the source tree after `meson setup build && ninja -C build`.
set -euo pipefail

src=${1:?usage: $0 SOURCE REFERENCE.jpg [THRESHOLD]}
ref=${2:?usage: $0 SOURCE REFERENCE.jpg [THRESHOLD]}
threshold=${3:-0.15}
here=$(cd "$(dirname "$0")/../.." && pwd)
if [ -d "$here/build/plugins/vssquery" ]; then
  export GST_PLUGIN_PATH="$here/build/plugins/vssembed:$here/build/plugins/vssquery${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
fi
[ -r "$ref" ] || { echo "cannot read the reference picture $ref" >&2; exit 2; }
ref=$(cd "$(dirname "$ref")" && pwd)/$(basename "$ref")

case "$src" in
  webcam) input="v4l2src" ;;
  *://*) input="uridecodebin uri=$src" ;;
  *) input="uridecodebin uri=file://$(cd "$(dirname "$src")" && pwd)/$(basename "$src")" ;;
esac

queries="[{\"id\":\"ref\",\"image\":\"$ref\",\"threshold\":$threshold,\"label\":\"$(basename "$ref")\"}]"

# -m prints bus messages; keep the vss-match ones.
gst-launch-1.0 -m $input ! videoconvert ! videorate ! video/x-raw,framerate=1/1 ! \
  vssembed provider=local ! \
  vssquery provider=local stream-id=example cooldown=10000 queries="$queries" ! \
  fakesink sync=false 2>&1 |
  grep --line-buffered "vss-match" |
  sed -u -e 's/.*query-id=(string)\([^,]*\).*distance=(double)\([^,]*\).*frame-id=(string)\([^,]*\).*pts=(guint64)\([0-9]*\).*/ALERT query=\1 distance=\2 frame=\3 pts_ns=\4/'
