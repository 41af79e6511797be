#!/usr/bin/env bash
# scripts/chromium.sh - print the path of a headless-capable Chromium, installing Debian's
# `chromium` package first when none is on PATH.
#
# For the report's browser tests (tests/test_report.py) and for looking at a report.html by
# hand:
#
#   "$(bash scripts/chromium.sh)" --headless=new --no-sandbox --disable-gpu \
#       --screenshot=/tmp/report.png --window-size=1280,2000 file:///path/to/report.html
#
# Idempotent: when chromium (or chromium-browser, google-chrome) is already on PATH nothing is
# installed.  Installing needs root and apt-get (Debian 12: about 100 MB, a minute); the
# package lists are refreshed (`apt-get update`) only when the first install attempt fails.
#
# On success: the binary's absolute path on stdout, exit 0.  On failure: one line
# `chromium.sh: error: <reason>` on stderr, exit 1.  The apt log is /tmp/chromium_apt.log.
set -uo pipefail

PROG=chromium.sh
PACKAGE=chromium
CANDIDATES=(chromium chromium-browser google-chrome google-chrome-stable)
APT_LOG=/tmp/chromium_apt.log

die() { echo "$PROG: error: $*" >&2; exit 1; }

last_log_line() {  # the last non-empty line of the apt log, for error messages
  [ -r "$APT_LOG" ] && grep -v '^\s*$' "$APT_LOG" | tail -n 1
}

find_binary() {  # the first candidate on PATH, or nothing (status 1)
  local name path
  for name in "${CANDIDATES[@]}"; do
    path=$(command -v "$name" 2>/dev/null) && { echo "$path"; return 0; }
  done
  return 1
}

if path=$(find_binary); then
  echo "$path"
  exit 0
fi

[ "$(id -u)" -eq 0 ] || die "no chromium on PATH, and installing $PACKAGE needs root (apt-get)"
command -v apt-get >/dev/null || die "no chromium on PATH, and apt-get not found"
export DEBIAN_FRONTEND=noninteractive
# A fresh machine may have empty or stale package lists: update once, then retry.
if ! apt-get install -y -q --no-install-recommends "$PACKAGE" >"$APT_LOG" 2>&1; then
  apt-get update -q >>"$APT_LOG" 2>&1 || die "apt-get update failed: $(last_log_line)"
  apt-get install -y -q --no-install-recommends "$PACKAGE" >>"$APT_LOG" 2>&1 \
    || die "apt-get install $PACKAGE failed: $(last_log_line)"
fi
path=$(find_binary) || die "installed $PACKAGE but no chromium binary is on PATH"
echo "$path"
