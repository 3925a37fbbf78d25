#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests (Playwright cannot download browsers here).
# As root it installs the package (and CJK fonts, for the Chinese terms in screenshots); otherwise it explains how, and the browser tests skip.
set -u
if command -v chromium >/dev/null 2>&1; then
  echo "chromium: $(chromium --version 2>/dev/null | head -n 1)"
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium for the browser tests..."
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null \
    && echo "chromium: $(chromium --version | head -n 1)" && exit 0
  echo "could not install chromium; the browser tests will be skipped" >&2
  exit 0
fi
echo "chromium is not installed and this user cannot install it: the browser tests will skip." >&2
echo "To enable them: sudo apt-get install chromium   (then run make test again)" >&2
exit 0
