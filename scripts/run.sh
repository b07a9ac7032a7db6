#!/usr/bin/env bash
# `make run`: a month of invoice bases through the whole exchange on this machine, then a summary.
#
#   1. scripts/setup.sh: development certificates for Stockholm (01), Halland (13) and Västra
#      Götaland (14), a generated month of bases between them (some invalid, some sensitive), the
#      disclosure log's keys, the regions' policies, the stores', hub's and regions' configurations
#   2. a RabbitMQ node (TLS only, certificate login) on loopback ports of its own
#   3. a restricted store per region; Västra Götaland pulls its bases instead (`invoice-hub
#      receive` into run/demo/inbox-2321000131/, IH_PULL_REGIONS)
#   4. the hub
#   5. each region publishes its own bases with its own certificate, in parallel
#   6. waits until every basis has an outcome on its sender's status queue
#   7. stops the hub (SIGTERM), verifies the disclosure log, prints the summary
# Everything lives in run/demo/; everything started is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
BIN=${IH_BIN:-${CARGO_TARGET_DIR:-$REPO/target}/release/invoice-hub}
COUNT=${IH_RUN_COUNT:-3000}
OUT=$REPO/run/demo
NAME=demo
REGIONS=(2321000016 2321000115 2321000131)
# The regions that pull their bases with `invoice-hub receive` instead of a store (docs/receive.md).
PULL_REGIONS=(${IH_PULL_REGIONS-2321000131})
declare -A REGION_NAME=([2321000016]="Region Stockholm" [2321000115]="Region Halland" [2321000131]="Västra Götalandsregionen")

[ -x "$BIN" ] || { echo "make run: $BIN is missing (make build)" >&2; exit 1; }
step() { printf '\n== %s\n' "$*"; }

PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    broker/ctl stop "$NAME" >/dev/null 2>&1 || true
}
trap cleanup EXIT

broker/ctl stop "$NAME" >/dev/null 2>&1 || true
rm -rf "$OUT" && mkdir -p "$OUT"
START=$(date +%s)

step "1. certificates, a month of bases ($COUNT, 5 % with a known rule violation), keys, policies, configurations (scripts/setup.sh)"
IH_BIN=$BIN IH_COUNT=$COUNT IH_SEED=2026 IH_INVALID_RATE=0.05 IH_PULL_REGIONS="${PULL_REGIONS[*]}" \
    bash scripts/setup.sh "$OUT"
# shellcheck disable=SC1091
. "$OUT/setup.env"

step "2. RabbitMQ on loopback, TLS only, regions log in by certificate (broker/ctl)"
broker/ctl up "$NAME" --certs "$OUT/pki" --amqps-port "$AMQPS" --dist-port "$DIST" \
    --regions "$(IFS=,; echo "${REGIONS[*]}")" --pull-regions "$(IFS=,; echo "${PULL_REGIONS[*]}")" \
    --owner-pid $$ | tail -n 1

step "3. a restricted store per region"
for org in "${REGIONS[@]}"; do
    d="$OUT/store-$org"
    "$BIN" store --config "$d/store.toml" >"$d/stdout" 2>"$d/store.log" &
    PIDS+=($!)
done
for org in "${REGIONS[@]}"; do
    for _ in $(seq 100); do grep -q https:// "$OUT/store-$org/stdout" 2>/dev/null && break; sleep 0.1; done
    echo "store of ${REGION_NAME[$org]} at $(grep -o 'https://[^ ]*' "$OUT/store-$org/stdout")"
done

step "4. the hub"
"$BIN" hub --config "$OUT/hub.toml" 2>"$OUT/hub.log" &
HUB=$!
PIDS+=($HUB)
echo "hub running (log: run/demo/hub.log, metrics: http://127.0.0.1:$METRICS/metrics, readiness: /ready)"
for org in "${PULL_REGIONS[@]}"; do
    "$BIN" receive --follow --config "$OUT/region-$org.toml" >"$OUT/receive-$org.log" 2>&1 &
    PIDS+=($!)
    echo "${REGION_NAME[$org]} pulls its bases: invoice-hub receive into run/demo/inbox-$org/"
done

step "5. each region publishes its own bases (AMQPS, its certificate, publisher confirms)"
PUB_START=$(date +%s.%N)
PUBS=()
for org in "${REGIONS[@]}"; do
    [ -d "$OUT/outbox-$org" ] || continue
    "$BIN" publish --config "$OUT/region-$org.toml" "$OUT/outbox-$org" >"$OUT/publish-$org.log" 2>&1 &
    PUBS+=($!)
done
for p in "${PUBS[@]}"; do wait "$p" || { echo "a publisher failed: see run/demo/publish-*.log" >&2; exit 1; }; done
for org in "${REGIONS[@]}"; do tail -n 1 "$OUT/publish-$org.log" 2>/dev/null | sed "s/^/${REGION_NAME[$org]}: /"; done

step "6. waiting for every outcome on the senders' status queues"
: >"$OUT/outcomes.jsonl"
while :; do
    for org in "${REGIONS[@]}"; do
        # QUEUED is not an answer (the basis waits for a receiver whose delivery is held up).
        "$BIN" status --config "$OUT/region-$org.toml" --format json 2>/dev/null | grep '^{' |
            grep -v '"outcome":"QUEUED"' >>"$OUT/outcomes.jsonl" || true
    done
    got=$(python3 -c "import json,sys; print(len({json.loads(l)['basis_id'] for l in open(sys.argv[1])}))" "$OUT/outcomes.jsonl")
    printf '\r%s / %s outcomes' "$got" "$COUNT"
    [ "$got" -ge "$COUNT" ] && break
    kill -0 $HUB 2>/dev/null || { echo; echo "the hub died: tail run/demo/hub.log" >&2; tail -n 20 "$OUT/hub.log" >&2; exit 1; }
    sleep 1
done
echo
PUB_END=$(date +%s.%N)

step "7. stopping the hub and verifying the disclosure log"
kill -TERM $HUB; wait $HUB
"$BIN" audit --log "$OUT/hub-log" verify --key "$OUT/keys/log-signing.pub" \
    --witness "https://127.0.0.1:$STORE_PORT_2321000016" --ca "$OUT/pki/ca.pem" --cert "$OUT/pki/auditor.pem" --cert-key "$OUT/pki/auditor.key" | tail -n 4

python3 - "$OUT" "$PUB_START" "$PUB_END" "$START" "${PULL_REGIONS[*]}" <<'EOF'
import json, os, sys, collections, time
out, t0, t1, start = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
pulling = sys.argv[5].split()
names = {"2321000016": "Stockholm", "2321000115": "Halland", "2321000131": "VGR"}
manifest = {json.loads(l)["id"]: json.loads(l) for l in open(f"{out}/bases/manifest.jsonl")}
last = {}
for l in open(f"{out}/outcomes.jsonl"):
    s = json.loads(l); last[s["basis_id"]] = s
pairs = collections.Counter(); why = collections.Counter()
for bid, s in last.items():
    m = manifest.get(bid, {})
    pair = f"{names.get(m.get('sender'), m.get('sender'))} -> {names.get(m.get('receiver'), m.get('receiver'))}"
    pairs[(pair, s["outcome"])] += 1
    if s["outcome"] == "ERROR":
        why["ERROR " + s["findings"][0]["rule"]] += 1
    elif s["outcome"] in ("WITHHELD", "REJECTED"):
        why[s["outcome"] + " " + s["withheld"]["rule"]] += 1
print(f"\n{'sender -> receiver':<24}{'OK':>7}{'ERROR':>7}{'WITHHELD':>10}{'REJECTED':>10}")
for pair in sorted({p for p, _ in pairs}):
    print(f"{pair:<24}" + "".join(f"{pairs[(pair, o)]:>{w}}" for o, w in (("OK", 7), ("ERROR", 7), ("WITHHELD", 10), ("REJECTED", 10))))
print("\nwhy not delivered (first rule):")
for k, n in why.most_common(12):
    print(f"  {n:>5}  {k}")
print("\nhow each receiving region got its bases:")
for org, name in names.items():
    ok = sum(1 for bid, s in last.items() if s["outcome"] == "OK" and s.get("receiver") == org)
    if org in pulling:
        inbox = f"{out}/inbox-{org}"
        files = len([f for f in os.listdir(inbox) if f.endswith(".xml")]) if os.path.isdir(inbox) else 0
        print(f"  {name:<10} by pull (invoice-hub receive): {ok} delivered, {files} files in run/demo/inbox-{org}/")
    else:
        print(f"  {name:<10} by its store (mutual-TLS PUT): {ok} delivered")
injected = sum(1 for m in manifest.values() if m.get("injected_rule") or m.get("invalid_rule"))
errors = sum(1 for s in last.values() if s["outcome"] == "ERROR")
secs = t1 - t0
mb = sum(m.get("bytes", 0) for m in manifest.values()) / 1e6
print(f"\n{len(last)} bases, {mb:.1f} MB, published and answered in {secs:.1f} s: "
      f"{len(last)/secs:.0f} bases/s end to end ({mb/secs:.1f} MB/s); "
      f"{injected} injected violations, {errors} ERROR answers; whole run {time.time()-start:.0f} s")
EOF
