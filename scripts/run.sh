#!/usr/bin/env bash
# `make run`: a month of invoice bases through the whole exchange on this machine, then a summary.
#
#   1. scripts/setup.sh: development certificates for Stockholm (01), Halland (13) and Västra
#      Götaland (14), a generated month of bases between them (some invalid, some sensitive), the
#      disclosure log's keys, the regions' policies, the stores', hub's and regions' configurations
#   2. a RabbitMQ node (TLS only, certificate login) on loopback ports of its own
#   3. a restricted store per region; Västra Götaland pulls its bases instead (`invoice-hub
#      receive` into run/demo/inbox-2321000131/, IH_PULL_REGIONS)
#   4. the hub, and the SOAP gateway (`invoice-hub gateway`: the national contract's front door);
#      Region Halland receives through its own producer of the contract (the `rivta` sink calls
#      its store's SOAP endpoint, IH_RIVTA_REGIONS)
#   5. each region publishes its own bases with its own certificate, in parallel; a quarter of
#      Region Stockholm's month goes through the gateway instead, as its finance system would
#      call ProcessClaimSpecification (scripts/soap_send.py, 10 calls at once)
#   6. waits until every basis has an outcome (the status queues; the SOAP answers)
#   7. stops the hub (SIGTERM), verifies the disclosure log, prints the summary: which path each
#      basis took in and out
# Everything lives in run/demo/; everything started is stopped on exit.
#
# With IH_DEMO=1 (`make demo`) it stops after step 4 and leaves everything running, with a trickle
# of bases from every region (AMQP and SOAP), prints every URL, port and certificate path, and
# leaves them as shell variables in run/demo/setup.env; `make demo-stop` stops it.
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
# The regions whose own producer of the contract the hub calls (the `rivta` sink).
RIVTA_REGIONS=(${IH_RIVTA_REGIONS-2321000115})
# The region part of whose month goes through the SOAP gateway, and how much of it (1 in N).
SOAP_REGION=${IH_SOAP_REGION:-2321000016}
SOAP_ONE_IN=${IH_SOAP_ONE_IN:-4}
DEMO=${IH_DEMO:-0}
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
# A demo left running by `make demo` is stopped first.
[ -f "$OUT/pids" ] && bash scripts/demo-stop.sh >/dev/null 2>&1 || true

broker/ctl stop "$NAME" >/dev/null 2>&1 || true
rm -rf "$OUT" && mkdir -p "$OUT"
START=$(date +%s)

step "1. certificates, a month of bases ($COUNT, 5 % with a known rule violation), keys, policies, configurations (scripts/setup.sh)"
IH_BIN=$BIN IH_COUNT=$COUNT IH_SEED=2026 IH_INVALID_RATE=0.05 IH_PULL_REGIONS="${PULL_REGIONS[*]}" \
    IH_RIVTA_REGIONS="${RIVTA_REGIONS[*]}" bash scripts/setup.sh "$OUT"
# shellcheck disable=SC1091
. "$OUT/setup.env"

step "2. RabbitMQ on loopback, TLS only, regions log in by certificate (broker/ctl)"
broker/ctl up "$NAME" --certs "$OUT/pki" --amqps-port "$AMQPS" --dist-port "$DIST" \
    --regions "$(IFS=,; echo "${REGIONS[*]}")" --pull-regions "$(IFS=,; echo "${PULL_REGIONS[*]}")" \
    $([ "$DEMO" = 1 ] || echo --owner-pid $$) | tail -n 1

step "3. a restricted store per region"
for org in "${REGIONS[@]}"; do
    d="$OUT/store-$org"
    "$BIN" store --config "$d/store.toml" >"$d/stdout" 2>"$d/store.log" &
    PIDS+=($!)
done
for org in "${REGIONS[@]}"; do
    for _ in $(seq 100); do grep -q https:// "$OUT/store-$org/stdout" 2>/dev/null && break; sleep 0.1; done
    url=$(grep -o 'https://[^ ]*' "$OUT/store-$org/stdout")
    echo "store of ${REGION_NAME[$org]} at $url"
    echo "    staff pages: $url/staff  (certificate run/demo/pki/staff-$org.pem, key run/demo/pki/staff-$org.key)"
    echo "    review page: $url/staff/withheld  (certificate run/demo/pki/reviewer-$org.pem, key run/demo/pki/reviewer-$org.key)"
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
for org in "${RIVTA_REGIONS[@]}"; do
    url_var="STORE_URL_$org"
    echo "${REGION_NAME[$org]} receives through its own producer of the contract (rivta sink: ${!url_var}/ProcessClaimSpecification/1/rivtabp21)"
done
"$BIN" gateway --config "$OUT/gateway.toml" >"$OUT/gateway.stdout" 2>"$OUT/gateway.log" &
GATEWAY=$!
PIDS+=($GATEWAY)
for _ in $(seq 200); do grep -q https:// "$OUT/gateway.stdout" 2>/dev/null && break; sleep 0.1; done
grep -q https:// "$OUT/gateway.stdout" || { echo "the gateway did not start: tail run/demo/gateway.log" >&2; tail -n 20 "$OUT/gateway.log" >&2; exit 1; }
echo "SOAP gateway at $GATEWAY_URL (WSDL: $GATEWAY_WSDL; log: run/demo/gateway.log)"

if [ "$DEMO" = 1 ]; then
    exec bash scripts/demo.sh "$OUT" "$BIN" "${PIDS[@]}"
fi

step "5. each region publishes its own bases (AMQPS, its certificate, publisher confirms); 1 in $SOAP_ONE_IN of ${REGION_NAME[$SOAP_REGION]}'s through the SOAP gateway"
mkdir -p "$OUT/soap-$SOAP_REGION"
n=0
for f in "$OUT/outbox-$SOAP_REGION"/*.xml; do
    n=$((n + 1))
    [ $((n % SOAP_ONE_IN)) -eq 0 ] && mv "$f" "$OUT/soap-$SOAP_REGION/"
done
: >"$OUT/gateway-answers.jsonl"
PUB_START=$(date +%s.%N)
PUBS=()
python3 scripts/soap_send.py --url "$GATEWAY_URL" --ca "$CA" --cert "$OUT/pki/region-$SOAP_REGION.pem" \
    --key "$OUT/pki/region-$SOAP_REGION.key" --concurrency 10 --out "$OUT/gateway-answers.jsonl" \
    "$OUT/soap-$SOAP_REGION"/*.xml >"$OUT/soap-send.log" 2>&1 &
SOAP_SENDER=$!
for org in "${REGIONS[@]}"; do
    [ -d "$OUT/outbox-$org" ] || continue
    "$BIN" publish --config "$OUT/region-$org.toml" "$OUT/outbox-$org" >"$OUT/publish-$org.log" 2>&1 &
    PUBS+=($!)
done
for p in "${PUBS[@]}"; do wait "$p" || { echo "a publisher failed: see run/demo/publish-*.log" >&2; exit 1; }; done
wait $SOAP_SENDER || { echo "a SOAP call got no answer: see run/demo/gateway-answers.jsonl and gateway.log" >&2; exit 1; }
echo "${REGION_NAME[$SOAP_REGION]}'s system: $(wc -l <"$OUT/gateway-answers.jsonl") calls of ProcessClaimSpecification answered"

for org in "${REGIONS[@]}"; do tail -n 1 "$OUT/publish-$org.log" 2>/dev/null | sed "s/^/${REGION_NAME[$org]}: /"; done

step "6. waiting for every outcome on the senders' status queues (a SOAP call's ERROR is its outcome)"
: >"$OUT/outcomes.jsonl"
while :; do
    for org in "${REGIONS[@]}"; do
        # QUEUED is not an answer (the basis waits for a receiver whose delivery is held up).
        "$BIN" status --config "$OUT/region-$org.toml" --format json 2>/dev/null | grep '^{' |
            grep -v '"outcome":"QUEUED"' >>"$OUT/outcomes.jsonl" || true
    done
    got=$(python3 -c "import json,sys; ids={json.loads(l)['basis_id'] for l in open(sys.argv[1])}; ids|={a['basis_id'] for a in map(json.loads, open(sys.argv[2])) if a['resultCode']!='OK'}; print(len(ids))" "$OUT/outcomes.jsonl" "$OUT/gateway-answers.jsonl")
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

python3 - "$OUT" "$PUB_START" "$PUB_END" "$START" "${PULL_REGIONS[*]}" "${RIVTA_REGIONS[*]}" "$SOAP_REGION" <<'EOF'
import json, os, sys, collections, time
out, t0, t1, start = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
pulling, rivta, soap_region = sys.argv[5].split(), sys.argv[6].split(), sys.argv[7]
names = {"2321000016": "Stockholm", "2321000115": "Halland", "2321000131": "VGR"}
manifest = {json.loads(l)["id"]: json.loads(l) for l in open(f"{out}/bases/manifest.jsonl")}
last = {}
for l in open(f"{out}/outcomes.jsonl"):
    s = json.loads(l); last[s["basis_id"]] = s
answers = [json.loads(l) for l in open(f"{out}/gateway-answers.jsonl")]
for a in answers:
    if a["resultCode"] != "OK":  # the contract's ERROR: its Id is the rule (or the policy rule)
        last[a["basis_id"]] = {"basis_id": a["basis_id"], "outcome": "ERROR",
                               "findings": [{"rule": (a["ids"] or ["?"])[0] + " (SOAP answer)"}]}
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
print("\nhow each sending region sent its bases:")
soap_ids = {a["basis_id"] for a in answers}
for org, name in names.items():
    sent = [bid for bid, m in manifest.items() if m.get("sender") == org]
    by_soap = [bid for bid in sent if bid in soap_ids]
    line = f"  {name:<10} {len(sent) - len(by_soap)} by AMQP (invoice-hub publish)"
    if by_soap:
        ms = sorted(a["ms"] for a in answers)
        codes = collections.Counter(a["resultCode"] for a in answers)
        line += (f", {len(by_soap)} through the SOAP gateway (ProcessClaimSpecification: "
                 f"{codes['OK']} OK, {codes['ERROR']} ERROR; answer p50 {ms[len(ms)//2]:.0f} ms, "
                 f"p99 {ms[min(len(ms)-1, int(len(ms)*0.99))]:.0f} ms, contract: < 3000 ms)")
    print(line)
print("\nhow each receiving region got its bases:")
for org, name in names.items():
    ok = sum(1 for bid, s in last.items() if s["outcome"] == "OK" and s.get("receiver") == org)
    if org in pulling:
        inbox = f"{out}/inbox-{org}"
        files = len([f for f in os.listdir(inbox) if f.endswith(".xml")]) if os.path.isdir(inbox) else 0
        print(f"  {name:<10} by pull (invoice-hub receive): {ok} delivered, {files} files in run/demo/inbox-{org}/")
    elif org in rivta:
        print(f"  {name:<10} by its own producer (rivta sink, ProcessClaimSpecification over mutual TLS): {ok} delivered")
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
