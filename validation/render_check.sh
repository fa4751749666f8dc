#!/usr/bin/env bash
# Screenshots an orrery validation report with headless Chromium and checks the PNG is not blank.
#   validation/render_check.sh REPORT.html OUT.png [WIDTH,HEIGHT]
# Needs chromium (Debian: apt-get install -y chromium). Not part of ctest: run it in CI or by hand.
# Exit status: 0 rendered, 1 render failed or blank image, 2 usage / chromium missing.
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 REPORT.html OUT.png [WIDTH,HEIGHT]" >&2
  exit 2
fi
report=$(readlink -f "$1")
out=$2
size=${3:-1200,2400}
[ -f "$report" ] || { echo "render_check: $1: no such file" >&2; exit 2; }
browser=""
for b in chromium chromium-browser google-chrome google-chrome-stable; do
  if command -v "$b" >/dev/null 2>&1; then browser=$b; break; fi
done
[ -n "$browser" ] || { echo "render_check: chromium not found (apt-get install -y chromium)" >&2; exit 2; }
# The page must be self-contained: refuse one that references the network.
if grep -Eq 'https?://' "$report"; then
  echo "render_check: $1 references the network (http:// or https://): not self-contained" >&2
  exit 1
fi
tmp_profile=$(mktemp -d)
trap 'rm -rf "$tmp_profile"' EXIT
rm -f "$out"
timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
  --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
  --user-data-dir="$tmp_profile" --screenshot="$(readlink -f "$(dirname "$out")")/$(basename "$out")" \
  --window-size="$size" "file://$report" >/dev/null 2>&1 || true
if [ ! -s "$out" ]; then
  echo "render_check: chromium wrote no screenshot" >&2
  exit 1
fi
# A blank page compresses to almost nothing: a rendered report with plots is far larger.
bytes=$(stat -c %s "$out")
if [ "$bytes" -lt 20000 ]; then
  echo "render_check: $out is only $bytes bytes: the page looks blank" >&2
  exit 1
fi
echo "render_check: $out ($bytes bytes)"
