#!/usr/bin/env bash
# Re-fetch the vendored front-end assets of the dashboard from the npm registry (no CDN at run time).
#
# Usage: scripts/vendor_assets.sh
# Needs: npm (only `npm pack` is used; nothing is installed), tar, sha256sum.
# Writes: static/vendor/chart.js/chart.umd.min.js and static/vendor/chart.js/LICENSE.md
set -euo pipefail

CHARTJS_VERSION="4.5.1"   # pinned: bump deliberately, then re-run this script and check the page

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$repo_root/static/vendor/chart.js"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "Fetching chart.js@$CHARTJS_VERSION from the npm registry..."
tarball="$(cd "$work" && npm pack --silent "chart.js@$CHARTJS_VERSION")"
echo "  got $tarball"
tar -xzf "$work/$tarball" -C "$work"

# Chart.js >= 4.5 ships dist/chart.umd.min.js; 4.0-4.4 shipped the same minified build as dist/chart.umd.js.
umd="dist/chart.umd.min.js"
[[ -f "$work/package/$umd" ]] || umd="dist/chart.umd.js"
for file in "$umd" LICENSE.md; do
    if [[ ! -f "$work/package/$file" ]]; then
        echo "error: $file not found in $tarball" >&2
        exit 1
    fi
done
if ! head -c 200 "$work/package/$umd" | grep -q "Chart.js v$CHARTJS_VERSION"; then
    echo "error: $umd in $tarball does not announce Chart.js v$CHARTJS_VERSION" >&2
    exit 1
fi
echo "  extracting package/$umd and package/LICENSE.md"

mkdir -p "$dest"
cp "$work/package/$umd" "$dest/chart.umd.min.js"
cp "$work/package/LICENSE.md" "$dest/LICENSE.md"

echo "Wrote:"
for file in "$dest/chart.umd.min.js" "$dest/LICENSE.md"; do
    echo "  ${file#"$repo_root"/}  ($(wc -c <"$file") bytes, sha256 $(sha256sum "$file" | cut -d' ' -f1))"
done
echo "Chart.js $CHARTJS_VERSION (MIT) vendored."
