#!/usr/bin/env bash
# Two-stage dedup: the free local embedding decides which frames are new, and
# only those are sent to Amazon Bedrock (Titan Multimodal Embeddings), whose
# vectors are stored for search by text. On typical footage most samples
# repeat the one before, so this cuts Bedrock calls (and cost) several-fold:
# `vss-ingest VIDEO --provider bedrock --json` reports frames_sampled (what a
# one-stage pipeline would send) and frames_kept (what this one sends).
#   AWS_REGION=us-east-1 AWS_PROFILE=me examples/pipelines/two-stage-dedup.sh clip.mp4
# Needs an AWS account with Titan Multimodal Embeddings G1 enabled (README,
# "vssembed provider=bedrock").
set -euo pipefail
. "$(dirname "$0")/env.sh"
file=${1:?usage: $0 VIDEO-FILE}
uri=$(python3 -c 'import pathlib,sys; print(pathlib.Path(sys.argv[1]).resolve().as_uri())' "$file")
: "${AWS_REGION:?set AWS_REGION (and credentials: AWS_PROFILE or AWS_ACCESS_KEY_ID/...)}"
need_valkey

gst-launch-1.0 -e \
  uridecodebin uri="$uri" ! \
  videorate drop-only=true ! video/x-raw,framerate=1/1 ! \
  videoconvert ! \
  `# stage 1: local embedding (vss-local-v2), under a millisecond, no network` \
  vssembed provider=local ! \
  `# drops near-duplicates by the local vector (the first meta on the buffer)` \
  vssdedup threshold=0.2 ! \
  jpegenc quality=85 ! \
  `# stage 2: Bedrock embeds only the survivors, from the JPEG as it is` \
  vssembed provider=bedrock max-in-flight=8 ! \
  `# store the Titan vector (the buffer carries both): the index gets DIM 1024` \
  vsssink valkey="$VALKEY" frames="$FRAMES" stream-id="${STREAM:-file}" \
    model=amazon.titan-embed-image-v1 index="${INDEX:-frames-titan}" \
    `# its own key prefix: an index covers the keys under its prefix only` \
    key-prefix=titan:
