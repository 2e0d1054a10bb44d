#!/usr/bin/env bash
# Install the system packages the test suite needs, only where missing.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils) # report PDF pages to PNG in tests
fc-list :lang=zh 2>/dev/null | grep -q . || need+=(fonts-wqy-microhei) # Chinese in screenshots
command -v redis-server >/dev/null 2>&1 || need+=(redis-server) # the Celery tests' broker
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "installing system packages: ${need[*]}"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
