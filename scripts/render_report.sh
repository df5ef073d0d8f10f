#!/usr/bin/env bash
# Screenshot a flywheel HTML report with headless Chromium (Debian package `chromium`), offline:
#   bash scripts/render_report.sh report.html [report.png] [height]
# Exits non-zero when Chromium fails or the page logs an uncaught script error.
set -euo pipefail
html=${1:?usage: render_report.sh REPORT.html [OUT.png] [HEIGHT]}
png=${2:-${html%.*}.png}
height=${3:-4000}
chromium=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [[ -z "$chromium" ]]; then
    echo "render_report.sh: chromium not found (apt-get install -y chromium)" >&2
    exit 2
fi
profile=$(mktemp -d)
log=$(mktemp)
trap 'rm -rf "$profile" "$log"' EXIT
"$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --enable-logging=stderr --v=0 \
    --screenshot="$(realpath -m "$png")" --window-size="1400,$height" \
    "file://$(realpath "$html")" 2>"$log"
if grep -q "Uncaught" "$log"; then
    grep "Uncaught" "$log" >&2
    exit 1
fi
[[ -s "$png" ]] || { echo "render_report.sh: no screenshot written" >&2; exit 1; }
echo "wrote $png"
