#!/bin/sh
# ctest entry of the browser tests: installs playwright-core from the npm
# registry (package-lock.json) when node_modules is absent, then runs
# report.test.mjs, attention.test.mjs and continuation.test.mjs. Exit 77 (skipped) when node, npm or
# Chromium is missing.
cd "$(dirname "$0")" || exit 1
command -v node >/dev/null 2>&1 || { echo "SKIP: node is not installed"; exit 77; }
CHROMIUM="${ATTRIB_CHROMIUM:-/usr/bin/chromium}"
[ -x "$CHROMIUM" ] || { echo "SKIP: no Chromium at $CHROMIUM (apt-get install chromium)"; exit 77; }
if [ ! -d node_modules/playwright-core ]; then
  command -v npm >/dev/null 2>&1 || { echo "SKIP: npm is not installed"; exit 77; }
  npm ci --no-audit --no-fund || { echo "SKIP: npm ci failed (no npm registry?)"; exit 77; }
fi
node report.test.mjs; reports=$?
node attention.test.mjs; attention=$?
node continuation.test.mjs; continuation=$?
# 1 (or any other failure) wins; skipped (77) only when all skipped
for rc in $reports $attention $continuation; do [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && exit "$rc"; done
[ "$reports" -eq 77 ] && [ "$attention" -eq 77 ] && [ "$continuation" -eq 77 ] && exit 77
exit 0
