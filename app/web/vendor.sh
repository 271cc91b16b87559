#!/bin/sh
# Vendor the browser libraries from the npm registry into the streamapp package.
#
# Runs `npm ci` against package-lock.json (exact versions, integrity-checked tarballs) and
# copies the built files into src/streamapp/web/static/vendor/. The copies are committed, so
# installing or running the app never needs npm or a CDN; re-run this after changing the pin
# in package.json (`npm install --package-lock-only` first) and commit the result.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dest="$here/../src/streamapp/web/static/vendor/hls"
cd "$here"
npm ci --ignore-scripts --no-audit --no-fund
mkdir -p "$dest"
for f in dist/hls.min.mjs dist/hls.worker.js LICENSE; do
    cp "node_modules/hls.js/$f" "$dest/$(basename "$f")"
done
version=$(node -p "require('./node_modules/hls.js/package.json').version")
printf '%s\n' "$version" > "$dest/VERSION"
echo "vendored hls.js $version into $dest"
