#!/usr/bin/env bash
# Installs what invoice-hub needs from Debian on a bare machine, and nothing when it is already
# there: libxml2 (the XSD engine) with what its bindings build with, and RabbitMQ for the tests
# and `make run` that use a real broker, xmllint for the tests of the served schemas, a font for
# `make bench`'s plot, and Chromium with Playwright for the tests that drive the staff pages in a
# real browser. Needs root (or sudo) only when something is missing.
set -euo pipefail

# libxml2 as a parser nobody here wrote, for tests/claim_roundtrip.rs (and scripts/check-wsdl.sh);
# zeep, the SOAP client nobody here wrote, for tests/gateway_soap.rs; Playwright, which drives
# Debian's chromium (it cannot download browsers of its own here), for tests/staff_pages.rs.
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import lxml, zeep, playwright' >/dev/null 2>&1; then
    echo "install-deps: installing Python's lxml, zeep and playwright" >&2
    "$PYTHON" -m pip install -q --disable-pip-version-check lxml zeep playwright >&2
fi

need=()
for pkg in libxml2-dev libxml2-utils pkg-config libclang-dev rabbitmq-server openssl curl fonts-dejavu-core chromium; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
[ ${#need[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${need[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian starts a system-wide RabbitMQ on install; the project runs its own nodes on ports of its
# own, so the system one is stopped to keep port 5672 and the CPU free.
if printf '%s\n' "${need[@]}" | grep -qx rabbitmq-server; then
    $SUDO service rabbitmq-server stop >/dev/null 2>&1 || true
fi
