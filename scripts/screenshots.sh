#!/usr/bin/env bash
# Saves screenshots of the fan app (desktop and a 360 px phone) and of the
# operator console into docs/img/web-*.png by running the browser tests
# with SCREENSHOT_DIR set. Installs Chromium, the npm packages and a Korean
# font (for the Korean screens) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/web.sh
if ! fc-list 2>/dev/null | grep -i -e nanum -e 'noto sans cjk' >/dev/null; then
  apt-get update && apt-get install -y fonts-nanum
fi
SCREENSHOT_DIR=docs/img go test ./web -run 'TestBrowser' -count=1
ls -1 docs/img/web-*.png
