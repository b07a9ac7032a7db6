#!/usr/bin/env bash
# Tests of tools/lazyfs (the power-cut FUSE file system). Installs what it needs
# on a bare Debian 12 machine, idempotently (nothing is installed that is
# already there), then runs its pytest suite. Needs root and /dev/fuse.
#   bash scripts/lazyfs-test.sh            # all tests
#   bash scripts/lazyfs-test.sh -k rename  # extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
export PYTHONDONTWRITEBYTECODE=1

if [ "$(id -u)" != 0 ]; then
  echo "lazyfs-test: must run as root (it mounts FUSE file systems)" >&2
  exit 1
fi

# Debian packages: fusermount3 and libfuse3 (runtime), headers + pkg-config +
# a C compiler (pip builds pyfuse3 from source: there is no wheel).
need=()
for pkg in fuse3 libfuse3-dev pkg-config gcc; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
# a Debian python (not a pyenv/self-built one) needs its headers from apt
if ! "$PY" -c 'import os, sysconfig, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'; then
  need+=(python3-dev)
fi
if [ "${#need[@]}" -gt 0 ]; then
  echo "lazyfs-test: apt-get install ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Python packages, only when missing (PIP_BREAK_SYSTEM_PACKAGES: Debian's own
# python refuses pip installs otherwise; an older pip ignores it).
pip_install() {
  PIP_BREAK_SYSTEM_PACKAGES=1 "$PY" -m pip install -q --disable-pip-version-check "$@"
}
if ! "$PY" -c 'import pyfuse3, trio' 2>/dev/null; then
  echo "lazyfs-test: pip install pyfuse3 (builds against libfuse3, ~1 min)"
  pip_install "pyfuse3==3.5.0"
fi
if ! "$PY" -c 'import pytest' 2>/dev/null; then
  pip_install pytest
fi

if [ ! -e /dev/fuse ]; then
  modprobe fuse 2>/dev/null || true
fi
if [ ! -e /dev/fuse ]; then
  echo "lazyfs-test: /dev/fuse is missing: FUSE is not available on this machine" >&2
  exit 1
fi

# make powercut needs only the installation.
[ -z "${LAZYFS_INSTALL_ONLY:-}" ] || exit 0

status=0
timeout 300 "$PY" -m pytest -q -p no:cacheprovider tools/lazyfs/test_lazyfs.py "$@" || status=$?

# never leave a lazyfs mount behind, even when pytest was killed
leftover=$(awk '$3 == "fuse.lazyfs" {print $2}' /proc/self/mounts)
if [ -n "$leftover" ]; then
  echo "lazyfs-test: lazyfs mounts left behind, unmounting: $leftover" >&2
  for m in $leftover; do umount -l "$m" || true; done
  [ "$status" -ne 0 ] || status=1
fi
exit "$status"
