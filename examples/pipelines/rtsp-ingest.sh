#!/usr/bin/env bash
# RTSP ingest: a network camera, sampled once a second, deduplicated and
# stored, until Ctrl-C.
#   examples/pipelines/rtsp-ingest.sh rtsp://user:pass@camera.local:554/stream1
# gst-launch stops when the camera drops; `vss-ingest rtsp://...` reconnects
# with backoff and carries on (that is what to run unattended).
set -euo pipefail
. "$(dirname "$0")/env.sh"
url=${1:?usage: $0 rtsp://host[:port]/path}
need_valkey

gst-launch-1.0 -e \
  `# protocols=tcp: interleaved over the RTSP connection, through NAT/firewalls` \
  rtspsrc location="$url" protocols=tcp latency=200 ! \
  decodebin ! \
  videorate drop-only=true ! video/x-raw,framerate=1/1 ! \
  videoconvert ! \
  vssembed provider=local ! \
  `# a camera shows the same scene for hours: remember up to 1 h of kept frames` \
  vssdedup threshold=0.2 window-duration=3600000000000 ! \
  jpegenc quality=85 ! \
  `# keys expire after 30 days (the JPEGs need a cleanup rule of their own)` \
  vsssink valkey="$VALKEY" frames="$FRAMES" stream-id="${STREAM:-camera}" ttl=2592000
