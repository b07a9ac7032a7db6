#!/usr/bin/env bash
# The second half of `make demo` (scripts/run.sh with IH_DEMO=1 execs it once the broker, the
# stores, the hub and the gateway are up): writes down where everything is, starts a trickle of
# bases from every region (one by AMQP and one through the SOAP gateway every few seconds, until
# the month runs out), and leaves it all running. `make demo-stop` stops it and keeps the logs.
#
#   scripts/demo.sh OUT BIN PID...
set -euo pipefail
OUT=$1; BIN=$2; shift 2
cd "$(dirname "$0")/.."
# shellcheck disable=SC1091
. "$OUT/setup.env"
EVERY=${IH_DEMO_EVERY:-3}

trickle() {
    local i=0 files=() f org
    # In the month's order (the file names start with the generator's sequence), every region's.
    mapfile -t files < <(ls "$OUT"/outbox-*/*.xml 2>/dev/null | awk -F/ '{print $NF "\t" $0}' | sort | cut -f2)
    for f in "${files[@]}"; do
        org=$(basename "$(dirname "$f")"); org=${org#outbox-}
        i=$((i + 1))
        if [ $((i % 2)) -eq 0 ]; then
            python3 scripts/soap_send.py --url "$GATEWAY_URL" --ca "$CA" --cert "$OUT/pki/region-$org.pem" \
                --key "$OUT/pki/region-$org.key" --out "$OUT/gateway-answers.jsonl" "$f" || true
            echo "$(date -u +%FT%TZ) SOAP $org $(basename "$f") $(tail -n 1 "$OUT/gateway-answers.jsonl" | python3 -c 'import json,sys; print(json.load(sys.stdin)["resultCode"])')"
        else
            "$BIN" publish --config "$OUT/region-$org.toml" "$f" >/dev/null 2>&1 || true
            echo "$(date -u +%FT%TZ) AMQP $org $(basename "$f")"
        fi
        sleep "$EVERY"
    done
    echo "$(date -u +%FT%TZ) the month is sent; everything keeps running until make demo-stop"
}
: >"$OUT/gateway-answers.jsonl"
nohup bash -c "$(declare -f trickle); OUT='$OUT' BIN='$BIN' EVERY='$EVERY' GATEWAY_URL='$GATEWAY_URL' CA='$CA'; trickle" \
    >"$OUT/trickle.log" 2>&1 &
TRICKLE=$!
printf '%s\n' "$@" "$TRICKLE" >"$OUT/pids"
cat >>"$OUT/setup.env" <<ENV
BROKER_NODE=ih-demo@localhost
HUB_LOG=$OUT/hub-log
HUB_METRICS=http://127.0.0.1:$METRICS/metrics
LOG_SIGNING_PUB=$OUT/keys/log-signing.pub
ENV

cat <<TXT

== the demo is running (stop it with: make demo-stop)
   everything below is also in run/demo/setup.env, as shell variables:  . run/demo/setup.env

   SOAP gateway (ProcessClaimSpecification 1.1, RIVTA BP 2.1, mutual TLS)
     GATEWAY_URL=$GATEWAY_URL
     GATEWAY_WSDL=$GATEWAY_WSDL
   the regions' stores (staff pages and API, mutual TLS)
$(for v in $(grep -o '^STORE_URL_[0-9]*' "$OUT/setup.env"); do echo "     $v=${!v}"; done)
   broker (AMQPS)         amqps://localhost:$AMQPS/invoice-hub
   hub metrics            http://127.0.0.1:$METRICS/metrics   (/ready, /live)
   certificates           CA=$CA
                          region systems: run/demo/pki/region-<org>.pem/.key
                          staff:          run/demo/pki/staff-<org>.pem/.key
                          auditor:        run/demo/pki/auditor.pem/.key
   logs                   run/demo/hub.log, gateway.log, store-<org>/store.log, trickle.log

   try it:
     . run/demo/setup.env
     curl --cacert \$CA --cert \$CERT_REGION_2321000115 --key \$KEY_REGION_2321000115 "\$GATEWAY_WSDL" | head
     python3 scripts/soap_send.py --url \$GATEWAY_URL --ca \$CA --cert \$CERT_REGION_2321000115 \\
         --key \$KEY_REGION_2321000115 run/demo/bases/<a Halland basis>.xml
     $BIN fetch --store \$STORE_URL_2321000016 --ca \$CA --cert \$CERT_STAFF_2321000016 \\
         --key \$KEY_STAFF_2321000016 list
TXT
