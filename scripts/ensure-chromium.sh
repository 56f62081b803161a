#!/usr/bin/env bash
# Make sure Debian's Chromium is installed for the end-to-end tests (Playwright for Python
# drives it through its executable path; Playwright's own browser download cannot reach the
# internet from these machines). Installs the Debian package chromium when it is missing.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
    echo "Chromium present: $(chromium --version 2>/dev/null || echo /usr/bin/chromium)"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "no apt-get: install Chromium by hand and set ALSTRIAL_CHROMIUM to its path" >&2
    exit 1
fi
echo "installing Chromium from Debian packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
echo "Chromium installed: $(chromium --version)"
