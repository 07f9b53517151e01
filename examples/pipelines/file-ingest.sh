#!/usr/bin/env bash
# File ingest: one frame per second of a video file, embedded with the
# built-in local model, near-duplicates dropped, the rest stored (JPEG in a
# folder, vector + metadata in Valkey).
#   examples/pipelines/file-ingest.sh clip.mp4
# The same with progress, a summary and exit codes: vss-ingest clip.mp4
set -euo pipefail
. "$(dirname "$0")/env.sh"
file=${1:?usage: $0 VIDEO-FILE}
uri=$(python3 -c 'import pathlib,sys; print(pathlib.Path(sys.argv[1]).resolve().as_uri())' "$file")
need_valkey

# -e: on Ctrl-C send EOS, so vsssink stores what it holds before exiting.
gst-launch-1.0 -e \
  uridecodebin uri="$uri" ! \
  `# keep one frame per second (drop-only: never duplicates frames)` \
  videorate drop-only=true ! video/x-raw,framerate=1/1 ! \
  videoconvert ! \
  `# 111-float layout/colour embedding, no network` \
  vssembed provider=local ! \
  `# drop frames closer than 0.2 (cosine distance) to one kept before` \
  vssdedup threshold=0.2 ! \
  jpegenc quality=85 ! \
  `# frames to FRAMES, HASH frame:<stream>:<id> + index "frames" in Valkey` \
  vsssink valkey="$VALKEY" frames="$FRAMES" stream-id="${STREAM:-file}"
