#!/usr/bin/env bash
# Search by image: the stored frames nearest to an example photograph, with
# distance, stream, capture time and where the JPEG is; also an HTML page
# with thumbnails.
#   examples/pipelines/search-by-image.sh photo.jpg [K]
# Filters: vss-search --stream cam1 --since 2h ...; by text (Bedrock-embedded
# frames): vss-search --provider bedrock --index frames-titan --text "a red car"
set -euo pipefail
. "$(dirname "$0")/env.sh"
image=${1:?usage: $0 IMAGE.jpg [K]}
need_valkey
vss-search --valkey "$VALKEY" --index "${INDEX:-frames}" --image "$image" \
  -k "${2:-10}" --html "${HTML:-search-results.html}"
echo "thumbnails: ${HTML:-search-results.html}"
