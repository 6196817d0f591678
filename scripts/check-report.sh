#!/usr/bin/env bash
# Renders a gan report (or findings page) in headless Chromium and fails on a blank page or a
# broken image.
# Usage: scripts/check-report.sh DIR/report.html|DIR/findings.html   (needs Debian's `chromium`)
set -euo pipefail
html="${1:?usage: check-report.sh REPORT_HTML}"
[ -f "$html" ] || { echo "check-report: $html: no such file" >&2; exit 1; }
browser="$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)"
[ -n "$browser" ] || { echo "check-report: no chromium found (apt-get install chromium)" >&2; exit 1; }
url="file://$(realpath "$html")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
flags=(--headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$work/profile"
       --allow-file-access-from-files --virtual-time-budget=10000)

# The page marks images that failed to load on <body data-images=N data-broken=M> once loaded.
"$browser" "${flags[@]}" --dump-dom "$url" > "$work/dom.html" 2> "$work/chromium.log" || {
    echo "check-report: chromium failed:" >&2; tail -5 "$work/chromium.log" >&2; exit 1; }
images="$(grep -o 'data-images="[0-9]*"' "$work/dom.html" | grep -o '[0-9]*' || true)"
broken="$(grep -o 'data-broken="[0-9]*"' "$work/dom.html" | grep -o '[0-9]*' || true)"
[ -n "$images" ] || { echo "check-report: the page never finished loading (no image count)" >&2; exit 1; }
[ "$images" -gt 0 ] || { echo "check-report: the page shows no images" >&2; exit 1; }
if [ "$broken" != 0 ]; then
    echo "check-report: $broken of $images images did not load:" >&2
    grep -o 'missing image: [^<]*' "$work/dom.html" >&2 || true
    exit 1
fi
# Visible text only: style and script blocks removed before the tags.
text="$(tr '\n' ' ' < "$work/dom.html" | sed -e 's/<style[^>]*>.*<\/style>//; s/<script[^>]*>[^<]*<\/script>//g; s/<[^>]*>//g' | tr -s ' ' | wc -c)"
[ "$text" -gt 500 ] || { echo "check-report: the page is nearly blank ($text characters of text)" >&2; exit 1; }
# A report leads with its verdict, a findings page with its table of results.
grep -q -e 'Verdict' -e 'Findings:' "$work/dom.html" || {
    echo "check-report: neither a Verdict section nor a Findings heading" >&2; exit 1; }

# A screenshot of a blank page is a few kilobytes of one colour; a report is far more.
"$browser" "${flags[@]}" --window-size=1200,1600 --screenshot="$work/shot.png" "$url" \
    > /dev/null 2>> "$work/chromium.log" || {
    echo "check-report: chromium could not take a screenshot:" >&2; tail -5 "$work/chromium.log" >&2; exit 1; }
size="$(stat -c %s "$work/shot.png" 2>/dev/null || echo 0)"
[ "$size" -gt 20000 ] || { echo "check-report: the rendered page looks blank (screenshot $size bytes)" >&2; exit 1; }
[ -z "${CHECK_REPORT_SCREENSHOT:-}" ] || cp "$work/shot.png" "$CHECK_REPORT_SCREENSHOT"
echo "check-report: $html renders: $images images, none broken, $text characters of text"
