#!/usr/bin/env bash
# Live alerts: watch a stream for a standing query (an example image) and
# print an alert line for each `vss-match` message, while storing the frames.
#   examples/pipelines/live-alerts.sh rtsp://camera/stream door.jpg [THRESHOLD]
# INPUT may also be a file. With Bedrock (provider=bedrock on vssembed and
# vssquery) the query can be a text: queries='[{"text":"a red car"}]'.
set -euo pipefail
. "$(dirname "$0")/env.sh"
input=${1:?usage: $0 rtsp://...|VIDEO-FILE QUERY-IMAGE [THRESHOLD]}
query=$(python3 -c 'import os,sys; print(os.path.abspath(sys.argv[1]))' "${2:?query image}")
threshold=${3:-0.25}
case $input in
  *://*) uri=$input ;;
  *) uri=$(python3 -c 'import pathlib,sys; print(pathlib.Path(sys.argv[1]).resolve().as_uri())' "$input") ;;
esac
need_valkey
# The standing query as JSON (python3 quotes any path right)...
queries=$(python3 -c 'import json,os,sys; print(json.dumps([{"id": "q1",
  "image": sys.argv[1], "threshold": float(sys.argv[2]),
  "label": os.path.basename(sys.argv[1])}]))' "$query" "$threshold")
# ...in gst-launch-1.0's double quotes, its own \ and " escaped: unquoted,
# gst-launch would cut the value at a space (an image path with a space).
queries=\"$(printf '%s' "$queries" | sed -e 's/[\\"]/\\&/g')\"

# -m prints bus messages; keep the vss-match ones as alert lines.
gst-launch-1.0 -e -m \
  uridecodebin uri="$uri" ! \
  videorate drop-only=true ! video/x-raw,framerate=1/1 ! \
  videoconvert ! \
  vssembed provider=local ! \
  `# after dedup: one alert per new view, and its uri is a stored frame` \
  vssdedup threshold=0.2 ! \
  `# compares each frame with the queries; a match posts vss-match` \
  `# (query-id, label, distance, frame-id, stream-id, timestamp, uri)` \
  vssquery provider=local queries="$queries" stream-id="${STREAM:-alerts}" \
    object-uri-prefix="$FRAMES" ! \
  jpegenc quality=85 ! \
  vsssink valkey="$VALKEY" frames="$FRAMES" stream-id="${STREAM:-alerts}" \
  | grep --line-buffered 'vss-match' \
  | sed -u -e 's/.*vss-match, /ALERT: /'
