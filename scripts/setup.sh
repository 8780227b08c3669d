#!/usr/bin/env bash
# Set up TDKG on a fresh Debian machine: a virtualenv with the package, and with --test the
# Debian packages the test suite needs (a JDK and the OWL API for the ontology checks, and
# Chromium for the browser tests: Playwright drives Debian's chromium, it never downloads one;
# Virtuoso and HAProxy, which the scale-out tests start on loopback). Every run also asks for
# jemalloc (libjemalloc2), the allocator the query workers preload: without it, or without
# root, the server still runs, on glibc's malloc.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

TEST_PACKAGES=(default-jdk-headless libowlapi-java chromium virtuoso-opensource-7-bin haproxy)
RUN_PACKAGES=(libjemalloc2)

want_test=0
[[ "${1:-}" == "--test" ]] && want_test=1

missing_debs() {
  local pkg
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || echo "$pkg"; done
}

install_debs() {
  local todo
  todo=$(missing_debs "$@")
  [[ -z "$todo" ]] && return 0
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: please install these Debian packages: $todo" >&2
    return 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $todo >/dev/null
}

if (( want_test )); then
  install_debs "${TEST_PACKAGES[@]}" "${RUN_PACKAGES[@]}"
else
  install_debs "${RUN_PACKAGES[@]}" ||
    echo "setup: going on without jemalloc; the query workers will use glibc's malloc" >&2
fi

if [[ ! -x .venv/bin/python ]]; then
  python3 -m venv .venv
fi
extras=""
(( want_test )) && extras="[test]"
.venv/bin/pip install -q --disable-pip-version-check -e ".${extras}"

# The query page's front-end libraries (YASGUI, vis-network, vis-timeline, Chart.js) from the npm registry,
# exactly as package-lock.json pins them; served by the server itself, never from a CDN.
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  if ! command -v npm >/dev/null; then
    echo "setup: npm is needed for the query page's libraries (Debian: apt-get install npm)" >&2
    exit 1
  fi
  npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
fi
echo "setup: done (.venv ready${extras:+, test tools installed})"
