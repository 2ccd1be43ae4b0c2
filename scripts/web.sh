#!/usr/bin/env bash
# Makes sure the web tests have what they need: Debian's Chromium at
# /usr/bin/chromium (the browser tests drive it with playwright-core; no
# browser is downloaded) and web/node_modules installed from the lock file.
# Rebuild the committed web/dist after changing web/ sources with
#   cd web && npm ci && npm run build
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "web: installing Node.js and npm"
  apt-get update && apt-get install -y nodejs npm
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "web: Node.js 20 or newer is needed (Vite 8, node --test); found $(node -v)" >&2
  exit 1
fi

if [ ! -x /usr/bin/chromium ]; then
  echo "web: installing chromium"
  apt-get update && apt-get install -y chromium
fi

if [ ! -f web/node_modules/.package-lock.json ] || [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then
  echo "web: npm ci"
  (cd web && npm ci --no-audit --no-fund --loglevel=error)
fi
