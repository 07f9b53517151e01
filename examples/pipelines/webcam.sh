#!/usr/bin/env bash
# Webcam: a V4L2 camera (USB webcam, capture card), two frames a second,
# deduplicated and stored, until Ctrl-C.
#   examples/pipelines/webcam.sh [/dev/video0]
# Same with vss-ingest: vss-ingest /dev/video0 --interval 0.5
set -euo pipefail
. "$(dirname "$0")/env.sh"
dev=${1:-/dev/video0}
[ -e "$dev" ] || { echo "$0: no camera at $dev (ls /dev/video*)" >&2; exit 4; }
need_valkey

gst-launch-1.0 -e \
  v4l2src device="$dev" ! \
  `# webcams give raw video or MJPEG: decodebin handles both` \
  decodebin ! \
  videorate drop-only=true ! video/x-raw,framerate=2/1 ! \
  videoconvert ! \
  vssembed provider=local ! \
  vssdedup threshold=0.2 ! \
  jpegenc quality=85 ! \
  vsssink valkey="$VALKEY" frames="$FRAMES" stream-id="${STREAM:-webcam}"
