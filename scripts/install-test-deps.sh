#!/usr/bin/env bash
# Install the system packages that some tests need, and nothing else.
#
# Idempotent: every dependency is checked first (a command on PATH, an
# installed Debian package, or a file), and apt-get runs only for what is
# missing — a second run installs nothing and returns at once.
#
# As root it installs with apt-get. Otherwise it uses sudo when that works
# without a password prompt (or with one, on a terminal); failing that it
# prints what to install and exits 0, and the tests that need the packages
# skip with their reason — except under CI=true, where that is a failure.
set -euo pipefail

# One dependency a line: "<check> <debian package>", where <check> is
#   cmd:NAME   a command on PATH            (command -v NAME)
#   dpkg:NAME  an installed Debian package  (dpkg -s NAME)
#   file:PATH  a file or directory that exists
# Add new lines here; nothing else needs to change.
DEPS=(
  # tests/app/test_go_interop.py: the Go toolchain and x/mod's sumdb/note, sumdb/tlog
  "cmd:go golang-go"
  "dpkg:golang-golang-x-mod-dev golang-golang-x-mod-dev"
  # kclverify/ (tests/app/test_kclverify.py, `make kclverify`): x/text's unicode/norm for the NFC
  # rule, and filippo.io/edwards25519 (the group behind crypto/ed25519) to decode each key once
  "dpkg:golang-golang-x-text-dev golang-golang-x-text-dev"
  "dpkg:golang-filippo-edwards25519-dev golang-filippo-edwards25519-dev"
  # tests/web: Playwright drives Debian's chromium (executable_path), never a downloaded browser
  "cmd:chromium chromium"
  # tests/app/test_hsm.py: the log key on a SoftHSM2 token (PKCS#11 module and token setup)
  "file:/usr/lib/softhsm/libsofthsm2.so softhsm2"
  "cmd:softhsm2-util softhsm2"
)

is_present() {
  local check=$1
  case "$check" in
    cmd:*) command -v "${check#cmd:}" >/dev/null 2>&1 ;;
    dpkg:*) dpkg -s "${check#dpkg:}" 2>/dev/null | grep -q '^Status: install ok installed$' ;;
    file:*) [[ -e "${check#file:}" ]] ;;
    *)
      echo "install-test-deps: unknown check '$check'" >&2
      exit 2
      ;;
  esac
}

missing=()
for dep in "${DEPS[@]}"; do
  read -r check package <<<"$dep"
  if ! is_present "$check"; then
    # The same package may be listed under several checks: install it once.
    [[ " ${missing[*]-} " == *" $package "* ]] || missing+=("$package")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1 && { sudo -n true 2>/dev/null || [[ -t 0 ]]; }; then
    sudo_cmd=(sudo)
  else
    echo "install-test-deps: not root and no usable sudo; install these yourself:" >&2
    echo "  apt-get install -y ${missing[*]}" >&2
    if [[ "${CI:-}" == "true" ]]; then
      exit 1
    fi
    echo "install-test-deps: the tests that need them will skip." >&2
    exit 0
  fi
fi

echo "install-test-deps: installing ${missing[*]}" >&2

apt_install() {
  ${sudo_cmd[@]+"${sudo_cmd[@]}"} env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# Try from the current package lists first; refresh them only if that fails
# (a fresh machine may have none yet, or stale ones).
if ! apt_install; then
  ${sudo_cmd[@]+"${sudo_cmd[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get update -q
  apt_install
fi
