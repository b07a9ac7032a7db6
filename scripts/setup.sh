#!/usr/bin/env bash
# Writes everything a local exchange of three regions needs into one directory, and starts
# nothing: `make run` (scripts/run.sh) and `make chaos` (examples/chaos.rs) both begin here and
# then start the broker, stores and hub their own way.
#
#   scripts/setup.sh OUT
#
#   OUT/pki/                    development certificates for Stockholm (01), Halland (13), VGR (14)
#   OUT/bases/                  IH_COUNT generated bases (seed IH_SEED, IH_INVALID_RATE invalid)
#   OUT/outbox-<org>/           each sending region's own bases (hard links into bases/)
#   OUT/keys/                   the disclosure log's signing key and patient key
#   OUT/policies/               the three regions' policies and protected identities
#   OUT/store-<org>/store.toml  a restricted store per region (initialised), on a fixed free port
#   OUT/hub.toml                the hub, delivering to those stores (or, for the regions in
#                               IH_PULL_REGIONS, leaving their bases on their delivery queue;
#                               for those in IH_RIVTA_REGIONS, calling their store's SOAP
#                               producer endpoint through the `rivta` sink)
#   OUT/gateway.toml            the SOAP gateway: every region may call with its certificate
#   OUT/region-<org>.toml       each region's adapter configuration (publish, status, notify;
#                               for a pulling region also receive, into OUT/inbox-<org>/)
#   OUT/setup.env               KEY=VALUE lines: the ports picked (AMQPS, DIST, METRICS,
#                               STORE_PORT_<org>, GATEWAY_PORT), the URLs (GATEWAY_URL,
#                               STORE_URL_<org>) and the certificate paths (CA, CERT_<who>)
#
# IH_BIN is the invoice-hub binary (default: the release build). IH_PULL_REGIONS (organisation
# numbers, space-separated) pull their bases with `invoice-hub receive` instead of a store; the
# broker must then be started with --pull-regions for them.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
OUT=${1:?usage: scripts/setup.sh OUT}
BIN=${IH_BIN:-${CARGO_TARGET_DIR:-$REPO/target}/release/invoice-hub}
COUNT=${IH_COUNT:-3000}
SEED=${IH_SEED:-2026}
INVALID_RATE=${IH_INVALID_RATE:-0.05}
PULL=" ${IH_PULL_REGIONS:-} "
RIVTA=" ${IH_RIVTA_REGIONS:-} "
REGIONS=(2321000016 2321000115 2321000131)
declare -A REGION_NAME=([2321000016]="Region Stockholm" [2321000115]="Region Halland" [2321000131]="Västra Götalandsregionen")
declare -A REGION_FILE=([2321000016]=stockholm [2321000115]=halland [2321000131]=vgr)

[ -x "$BIN" ] || { echo "setup: $BIN is missing (make build)" >&2; exit 1; }
. scripts/ports.sh  # free_port (the script runs from the repository root)
rm -rf "$OUT" && mkdir -p "$OUT"

"$BIN" pki dev --out "$OUT/pki" --regions 01,13,14 >/dev/null

"$BIN" gen --count "$COUNT" --seed "$SEED" --invalid-rate "$INVALID_RATE" --regions 01,13,14 \
    --out "$OUT/bases" | tail -n 3
python3 - "$OUT" <<'EOF'
import json, os, sys
out = sys.argv[1]
for line in open(f"{out}/bases/manifest.jsonl"):
    m = json.loads(line)
    d = f"{out}/outbox-{m['sender']}"
    os.makedirs(d, exist_ok=True)
    os.link(f"{out}/bases/{m['file']}", f"{d}/{m['file']}")
EOF

"$BIN" audit keygen --out "$OUT/keys" >/dev/null
mkdir -p "$OUT/policies"
cp deploy/policies/region-halland.toml "$OUT/policies/"
# The regions' protected identities: the policy's own list plus the generator's protected patients.
cat deploy/policies/protected-identities.txt "$OUT/bases/protected-identities.txt" >"$OUT/policies/protected-identities.txt"
# The other two regions start from Halland's policy, as a region would.
for org in 2321000016 2321000131; do
    sed -e "s/^region = \"2321000115\"/region = \"$org\"/" \
        -e "s/^id = \"halland-utomlansfakturering\"/id = \"demo-$org\"/" \
        -e "s/Region Halland/${REGION_NAME[$org]}/" \
        deploy/policies/region-halland.toml >"$OUT/policies/region-$org.toml"
done

AMQPS=$(free_port); DIST=$(free_port); METRICS=$(free_port); GATEWAY_PORT=$(free_port)
ENDPOINT=/ProcessClaimSpecification/1/rivtabp21
{
    echo "AMQPS=$AMQPS"
    echo "DIST=$DIST"
    echo "METRICS=$METRICS"
    echo "GATEWAY_PORT=$GATEWAY_PORT"
    echo "GATEWAY_URL=https://127.0.0.1:$GATEWAY_PORT$ENDPOINT"
    echo "GATEWAY_WSDL=https://127.0.0.1:$GATEWAY_PORT$ENDPOINT?wsdl"
    echo "CA=$OUT/pki/ca.pem"
    echo "CRL=$OUT/pki/crl.pem"
    echo "CERT_AUDITOR=$OUT/pki/auditor.pem"
    echo "KEY_AUDITOR=$OUT/pki/auditor.key"
    echo "CERT_PLATFORM=$OUT/pki/platform.pem"
    echo "KEY_PLATFORM=$OUT/pki/platform.key"
    for org in "${REGIONS[@]}"; do
        echo "CERT_REGION_$org=$OUT/pki/region-$org.pem"
        echo "KEY_REGION_$org=$OUT/pki/region-$org.key"
        echo "CERT_STAFF_$org=$OUT/pki/staff-$org.pem"
        echo "KEY_STAFF_$org=$OUT/pki/staff-$org.key"
    done
} >"$OUT/setup.env"

declare -A STORE_PORT
for org in "${REGIONS[@]}"; do
    # A fixed port, so a store that is stopped comes back where the hub expects it.
    STORE_PORT[$org]=$(free_port)
    echo "STORE_PORT_$org=${STORE_PORT[$org]}" >>"$OUT/setup.env"
    echo "STORE_URL_$org=https://127.0.0.1:${STORE_PORT[$org]}" >>"$OUT/setup.env"
    d="$OUT/store-$org"; mkdir -p "$d"
    cat >"$d/store.toml" <<EOF
org = "$org"
listen = "127.0.0.1:${STORE_PORT[$org]}"
data_dir = "data"
keys_dir = "keys"
patient_key = "../keys/patient-hmac.key"   # the federation's: reads join the hub's disclosures
[tls]
ca = "../pki/ca.pem"
cert = "../pki/store-$org.pem"
key = "../pki/store-$org.key"
crl = "../pki/crl.pem"
[access]
writers = ["hsa:SE0000000000-HUB"]
readers = ["hsa:SE$org-READER1"]
reviewers = ["hsa:SE$org-REVIEWER1"]
assessors = ["hsa:SE$org-REVIEWER1"]   # the region's officials who review what its policy withholds
[witness]                  # this store keeps the hub's signed heads
logs = { "hub-demo" = "../keys/log-signing.pub" }
EOF
    "$BIN" store --init --config "$d/store.toml" >/dev/null
done

cat >"$OUT/hub.toml" <<EOF
instance = "hub-demo"
gateways = ["hsa:SE0000000000-GATEWAY"]   # the SOAP gateway's broker certificate
[broker]
port = $AMQPS
ca = "pki/ca.pem"
cert = "pki/hub.pem"
key = "pki/hub.key"
[consume]
prefetch = 64
per_receiver = 24
[policy]
paths = ["policies"]
[audit]
dir = "hub-log"
signing_key = "keys/log-signing.key"
patient_key = "keys/patient-hmac.key"
[delivery]
ca = "pki/ca.pem"
cert = "pki/hub.pem"
key = "pki/hub.key"
crl = "pki/crl.pem"
[witness]
every_secs = 5
[review]                   # each region reviews in its own store what its policy withholds
every_secs = 5
[review.stores]
$(for org in "${REGIONS[@]}"; do
    echo "\"$org\" = { url = \"https://127.0.0.1:${STORE_PORT[$org]}\", identity = \"hsa:SE$org-STORE\" }"
done)
[receivers]
$(for org in "${REGIONS[@]}"; do
    if [[ "$PULL" == *" $org "* ]]; then echo "\"$org\" = { sink = \"queue\" }"
    elif [[ "$RIVTA" == *" $org "* ]]; then echo "\"$org\" = { sink = \"rivta\", url = \"https://127.0.0.1:${STORE_PORT[$org]}$ENDPOINT\", identity = \"hsa:SE$org-STORE\" }"
    else echo "\"$org\" = { sink = \"store\", url = \"https://127.0.0.1:${STORE_PORT[$org]}\", identity = \"hsa:SE$org-STORE\" }"; fi
done)
[metrics]
listen = "127.0.0.1:$METRICS"
EOF

cat >"$OUT/gateway.toml" <<EOF
instance = "gw-demo"
listen = "127.0.0.1:$GATEWAY_PORT"
receivers = [$(for org in "${REGIONS[@]}"; do printf '"%s", ' "$org"; done)]
[tls]
ca = "pki/ca.pem"
cert = "pki/gateway.pem"
key = "pki/gateway.key"
crl = "pki/crl.pem"
[broker]
port = $AMQPS
ca = "pki/ca.pem"
cert = "pki/gateway.pem"
key = "pki/gateway.key"
[platform]
identities = ["hsa:SE0000000000-PLATFORM"]
[callers]
$(for org in "${REGIONS[@]}"; do echo "\"hsa:SE$org-REGION\" = \"$org\""; done)
EOF

for org in "${REGIONS[@]}"; do
    sed -e "s#\.\./run/pki#pki#g" -e "s/^port = .*/port = $AMQPS/" \
        "deploy/region-${REGION_FILE[$org]}.toml" >"$OUT/region-$org.toml"
    if [[ "$PULL" == *" $org "* ]]; then
        printf '\n[receive]\ndir = "inbox-%s"\n' "$org" >>"$OUT/region-$org.toml"
    fi
done
