#!/usr/bin/env bash
# Installs what `xtf report` and the report rendering tests need:
#   - chromium (Debian) for the headless rendering checks, nodejs and npm if node is missing
#   - the `allure` package from the npm registry into reports/node_modules, at the version pinned by
#     reports/package-lock.json (`npm ci`; skipped when that version is already installed)
# Usage: sudo bash scripts/setup-report-tools.sh      (idempotent; apt needs root)
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

need=()
command -v chromium >/dev/null || need+=(chromium)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup-report-tools: must run as root to install ${need[*]} (apt-get)" >&2
        exit 2
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

want=$(node -p "require('./reports/package-lock.json').packages['node_modules/allure'].version")
have=$(node -p "try { require('./reports/node_modules/allure/package.json').version } catch { '' }")
if [ "$want" != "$have" ]; then
    (cd reports && npm ci --no-audit --no-fund --loglevel=error)
fi

echo "setup-report-tools: allure $(reports/node_modules/.bin/allure --version 2>/dev/null | head -1), node $(node --version), $(chromium --version 2>/dev/null | head -1)"
