#!/usr/bin/env bash
# The extension: node unit tests, web-ext lint of the Firefox build, then the browser
# end-to-end tests (Chromium via playwright-core, Firefox via puppeteer-core/WebDriver BiDi).
# The full-flow tests build and use bttrack, btpublish and bthelper (debug builds).
set -euo pipefail
cd "$(dirname "$0")/../.."

# The daemons the browsers start inherit this environment: peers on loopback only, and no DHT or
# local discovery (which would look up the public DHT routers and multicast on the real interface).
export SWARMLINK_LISTEN_IP=127.0.0.1 SWARMLINK_NO_DHT=1 SWARMLINK_NO_LSD=1

(cd tests/browser && { [ -d node_modules ] && npm ls >/dev/null 2>&1 || npm ci --no-audit --no-fund; })

echo "-- extension unit tests"
node --test extension/test/

echo "-- web-ext lint (Firefox build)"
node extension/build.mjs
(cd tests/browser && npx --no-install web-ext lint --warnings-as-errors \
  --source-dir ../../extension/dist/firefox --output text)

echo "-- browser end-to-end tests"
(cd tests/browser && node --test --test-concurrency=1 --test-timeout=240000 e2e/)
