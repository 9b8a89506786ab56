#!/usr/bin/env bash
# Install the load tools `custody bench http` drives, and nothing else: wrk (Debian's
# package). Idempotent: does nothing when wrk is on PATH. The constant-rate generator
# (bench/paced_load.py) needs only the standard library.
set -euo pipefail

if command -v wrk >/dev/null 2>&1; then
  exit 0
fi
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo_cmd=(sudo)
  else
    echo "bench/install-tools.sh: not root and no sudo; install wrk yourself (apt-get install wrk)" >&2
    exit 1
  fi
fi
echo "bench/install-tools.sh: installing wrk" >&2
if ! ${sudo_cmd[@]+"${sudo_cmd[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends wrk; then
  ${sudo_cmd[@]+"${sudo_cmd[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get update -q
  ${sudo_cmd[@]+"${sudo_cmd[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends wrk
fi
