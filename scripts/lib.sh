# Shared by scripts/demo and scripts/test: make sure the machine has what they need.
# shellcheck shell=bash

ensure_redis_server() {
  if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then
    return 0
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "redis-server is missing. Install it with: sudo apt-get install -y redis-server redis-tools" >&2
    exit 1
  fi
  echo "Installing redis-server and redis-tools with apt..." >&2
  # Keep the package from starting its own server on port 6379: tests start their own.
  local policy=/usr/sbin/policy-rc.d created=0
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; created=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools >/dev/null
  if [ "$created" = 1 ]; then rm -f "$policy"; fi
}

ensure_apt_package() {  # ensure_apt_package COMMAND PACKAGE...
  local cmd=$1; shift
  command -v "$cmd" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "$cmd is missing. Install it with: sudo apt-get install -y $*" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_venv() {  # ensure_venv [EXTRA]: a .venv with the project installed (EXTRA: e.g. "dev")
  local extra=${1:-}
  local spec="."
  [ -n "$extra" ] && spec=".[$extra]"
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
  fi
  .venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -m pip install -q -e "$spec" 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -c "import redis_audit" # fail loudly if the install did not work
}

# The SARIF Multitool (npm, a self-contained .NET binary) validates SARIF against GitHub's rules in the tests.
# Installed once per machine into a cache directory shared by every checkout; tests never download it.
SARIF_MULTITOOL_VERSION=5.7.0
sarif_multitool_dir() {
  echo "${REDIS_AUDIT_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/redis-audit-tools}/sarif-multitool-$SARIF_MULTITOOL_VERSION"
}

ensure_sarif_multitool() {
  local dir bin
  dir=$(sarif_multitool_dir)
  bin="$dir/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool"
  [ -x "$bin" ] && return 0
  ensure_apt_package npm nodejs npm
  mkdir -p "$dir"
  npm install --silent --no-audit --no-fund --prefix "$dir" "@microsoft/sarif-multitool@$SARIF_MULTITOOL_VERSION" >/dev/null
  chmod u+x "$bin"  # npm may skip the package's postinstall (allowScripts), which only does this
}
