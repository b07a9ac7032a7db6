#!/usr/bin/env bash
# `make demo-stop`: stops what `make demo` left running (the trickle, the gateway, the hub, the
# stores, the broker), each with SIGTERM so the hub signs its last head, and leaves run/demo/
# with every log and the disclosure log for the auditor.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-run/demo}
[ -f "$OUT/pids" ] || { echo "no demo is running (no $OUT/pids)"; exit 0; }
# The trickle first (last line), then the gateway and the hub, then the stores.
tac "$OUT/pids" | while read -r p; do kill -TERM "$p" 2>/dev/null || true; done
for _ in $(seq 150); do
    alive=0
    while read -r p; do kill -0 "$p" 2>/dev/null && alive=1; done <"$OUT/pids"
    [ $alive = 0 ] && break
    sleep 0.2
done
while read -r p; do kill -KILL "$p" 2>/dev/null || true; done <"$OUT/pids"
rm -f "$OUT/pids"
broker/ctl stop demo >/dev/null 2>&1 || true
echo "demo stopped; logs and the disclosure log are left in $OUT/:"
echo "  hub.log gateway.log trickle.log store-*/store.log hub-log/"
echo "  verify: invoice-hub audit --log $OUT/hub-log verify --key $OUT/keys/log-signing.pub"
