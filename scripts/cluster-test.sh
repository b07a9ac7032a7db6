#!/usr/bin/env bash
# `make cluster-test`: the exchange on a three-node RabbitMQ cluster with two hub instances.
#
#   1. certificates, a three-node cluster (broker/ctl cluster-up: quorum queues on every node),
#      three region stores, one patient key for the deployment and a signing key per hub
#   2. throughput: a batch waiting on the queue drained by 1 hub, then another by 2 hubs
#      (same run, same machine: the figure is the ratio)
#   3. the main run: 20 000 bases from three regions while both hubs consume; mid-stream one
#      broker node is stopped (every client was connected to it) and one hub is SIGKILLed
#   4. checks: every basis answered (no loss); every disclosed basis exactly once in its store
#      (no duplicate delivery); both logs verify with their own keys; the cross-log answer holds,
#      per basis, exactly the entries its outcome calls for — its decision whole in one log, its
#      delivery in one (the same hub's or the other's: both hubs run both stages); a basis whose
#      hub died between logging and the ack shows two, which is counted and bounded; the
#      cross-log query by patient returns exactly the expected entries; one export of both logs
#      checks offline
# Exit status 0 only when every check holds. Everything lives in run/cluster-test/ (or
# $IH_CLUSTER_DIR); everything started is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
BIN=${IH_BIN:-${CARGO_TARGET_DIR:-$REPO/target}/release/invoice-hub}
COUNT=${IH_CLUSTER_COUNT:-20000}
TP_COUNT=${IH_CLUSTER_TP_COUNT:-3000}
LINES=${IH_CLUSTER_LINES:-1-3}
OUT=${IH_CLUSTER_DIR:-$REPO/run/cluster-test}
# Node names are machine-wide: this worktree's path picks a name no other checkout uses.
NAME=ct-$(printf '%s' "$REPO" | cksum | cut -c1-6)
REGIONS=(2321000016 2321000115 2321000131)
PREFETCH=32
PER_RECEIVER=16
IN_FLIGHT=64

[ -x "$BIN" ] || { echo "cluster-test: $BIN is missing (make build)" >&2; exit 2; }
. scripts/ports.sh  # free_port (the script runs from the repository root)
step() { printf '\n== %s  (%s)\n' "$*" "$(date +%T)"; }
die() { echo "cluster-test: FAILED: $*" >&2; exit 1; }

PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    broker/ctl cluster-stop "$NAME" >/dev/null 2>&1 || true
}
trap cleanup EXIT

rm -rf "$OUT" && mkdir -p "$OUT"
START=$(date +%s)

step "1. certificates, a three-node RabbitMQ cluster, stores, keys"
"$BIN" pki dev --out "$OUT/pki" --regions 01,13,14 >/dev/null
AP=(); DP=()
for _ in 1 2 3; do AP+=("$(free_port)"); DP+=("$(free_port)"); done
export IH_RUN_DIR=$OUT
broker/ctl cluster-up "$NAME" --certs "$OUT/pki" \
    --amqps-ports "$(IFS=,; echo "${AP[*]}")" --dist-ports "$(IFS=,; echo "${DP[*]}")" \
    --regions "$(IFS=,; echo "${REGIONS[*]}")" --owner-pid $$ >"$OUT/cluster-up.log" 2>&1 ||
    { cat "$OUT/cluster-up.log" >&2; die "the cluster did not come up"; }
grep -E 'joins|cluster .* is up' "$OUT/cluster-up.log" | sed 's/^/  /' 
broker/ctl cluster-check "$NAME" || die "the quorum queues are not on all three nodes"
broker/ctl ctl "$NAME-1" list_queues -p invoice-hub name members --no-table-headers | sed 's/^/  /'
NODES=$(printf '"localhost:%s", ' "${AP[@]}"); NODES="[${NODES%, }]"

mkdir -p "$OUT/policies" "$OUT/keys"
"$BIN" audit keygen --out "$OUT/keys/a" >/dev/null
"$BIN" audit keygen --out "$OUT/keys/b" >/dev/null
# One deployment secret for patient hashes (a patient must hash the same in every hub's log),
# one signing key per hub (each log is its instance's own).
cp "$OUT/keys/a/patient-hmac.key" "$OUT/keys/patient-hmac.key"

gen() { # gen DIR COUNT MONTH SEED
    "$BIN" gen --count "$2" --seed "$4" --month "$3" --today 20261123 --invalid-rate 0.02 \
        --lines "$LINES" --regions 01,13,14 --out "$1" | tail -n 1
}
gen "$OUT/tp1" "$TP_COUNT" 2026-08 11
gen "$OUT/tp2" "$TP_COUNT" 2026-09 12
gen "$OUT/main" "$COUNT" 2026-10 2026
cat deploy/policies/protected-identities.txt "$OUT"/{tp1,tp2,main}/protected-identities.txt \
    >"$OUT/policies/protected-identities.txt"
cp deploy/policies/region-halland.toml "$OUT/policies/"
for org in 2321000016 2321000131; do
    sed -e "s/^region = \"2321000115\"/region = \"$org\"/" \
        -e "s/^id = \"halland-utomlansfakturering\"/id = \"ct-$org\"/" \
        deploy/policies/region-halland.toml >"$OUT/policies/region-$org.toml"
done

declare -A STORE_URL
for org in "${REGIONS[@]}"; do
    d="$OUT/store-$org"; mkdir -p "$d"
    cat >"$d/store.toml" <<EOF
org = "$org"
listen = "127.0.0.1:0"
data_dir = "data"
keys_dir = "keys"
[tls]
ca = "../pki/ca.pem"
cert = "../pki/store-$org.pem"
key = "../pki/store-$org.key"
crl = "../pki/crl.pem"
[access]
writers = ["hsa:SE0000000000-HUB"]
readers = ["hsa:SE$org-READER1"]
reviewers = ["hsa:SE$org-REVIEWER1"]
EOF
    "$BIN" store --init --config "$d/store.toml" >/dev/null
    "$BIN" store --config "$d/store.toml" >"$d/stdout" 2>"$d/store.log" &
    PIDS+=($!)
done
for org in "${REGIONS[@]}"; do
    for _ in $(seq 100); do grep -q https:// "$OUT/store-$org/stdout" 2>/dev/null && break; sleep 0.1; done
    STORE_URL[$org]=$(grep -o 'https://[^ ]*' "$OUT/store-$org/stdout") || die "store $org did not start"
done

for h in a b; do
    cat >"$OUT/hub-$h.toml" <<EOF
instance = "hub-$h"
[broker]
nodes = $NODES
ca = "pki/ca.pem"
cert = "pki/hub.pem"
key = "pki/hub.key"
[consume]
prefetch = $PREFETCH
per_receiver = $PER_RECEIVER
[policy]
paths = ["policies"]
[audit]
dir = "hub-$h-log"
signing_key = "keys/$h/log-signing.key"
patient_key = "keys/patient-hmac.key"
[delivery]
ca = "pki/ca.pem"
cert = "pki/hub.pem"
key = "pki/hub.key"
[receivers]
"2321000016" = "${STORE_URL[2321000016]}"
"2321000115" = "${STORE_URL[2321000115]}"
"2321000131" = "${STORE_URL[2321000131]}"
EOF
done
for org in "${REGIONS[@]}"; do
    cat >"$OUT/region-$org.toml" <<EOF
org = "$org"
[broker]
nodes = $NODES
ca = "pki/ca.pem"
cert = "pki/region-$org.pem"
key = "pki/region-$org.key"
[publish]
in_flight = $IN_FLIGHT
max_attempts = 10
confirm_timeout_secs = 30
connect_give_up_secs = 120
EOF
done

declare -A HUB_PID
start_hub() { "$BIN" hub --config "$OUT/hub-$1.toml" 2>>"$OUT/hub-$1.log" & HUB_PID[$1]=$!; PIDS+=($!); }
stop_hub() { kill -TERM "${HUB_PID[$1]}"; wait "${HUB_PID[$1]}" || die "hub-$1 did not stop cleanly on SIGTERM"; }
# One follower per region writes every status it reads (JSON lines) for the whole run.
for org in "${REGIONS[@]}"; do
    "$BIN" status --follow --format json --config "$OUT/region-$org.toml" \
        >>"$OUT/status-$org.jsonl" 2>>"$OUT/status-$org.log" &
    PIDS+=($!)
done
answered() { # distinct basis ids answered among the ids in file $1
    python3 - "$1" "$OUT" <<'EOF'
import json, glob, sys
want = set(open(sys.argv[1]).read().split())
seen = set()
for f in glob.glob(f"{sys.argv[2]}/status-*.jsonl"):
    for line in open(f):
        if line.startswith("{"):
            s = json.loads(line)
            if s["basis_id"] in want and s["outcome"] != "QUEUED": seen.add(s["basis_id"])
print(len(seen))
EOF
}
publish_all() { # publish_all SETDIR: each region its own bases, in parallel
    local set=$1 pubs=()
    python3 - "$set" <<'EOF'
import json, os, sys
d = sys.argv[1]
for line in open(f"{d}/manifest.jsonl"):
    m = json.loads(line)
    o = f"{d}/outbox-{m['sender']}"
    os.makedirs(o, exist_ok=True)
    os.link(f"{d}/{m['file']}", f"{o}/{m['file']}")
EOF
    for org in "${REGIONS[@]}"; do
        [ -d "$set/outbox-$org" ] || continue
        "$BIN" publish --config "$OUT/region-$org.toml" "$set/outbox-$org" >"$set/publish-$org.log" 2>&1 &
        pubs+=($!)
    done
    PUBLISHERS=("${pubs[@]}")
}
ids_of() { python3 -c 'import json,sys; [print(json.loads(l)["id"]) for l in open(sys.argv[1])]' "$1/manifest.jsonl" >"$1/ids"; }
wait_all() { # wait_all SETDIR N TIMEOUT
    local deadline=$((SECONDS + $3)) n
    while :; do
        n=$(answered "$1/ids")
        [ "$n" -ge "$2" ] && return 0
        [ $SECONDS -lt $deadline ] || die "only $n of $2 bases of $(basename "$1") answered in $3 s"
        sleep 2
    done
}

step "2. throughput: $TP_COUNT bases waiting on the queue, drained by 1 hub, then $TP_COUNT by 2 hubs"
for s in tp1 tp2; do ids_of "$OUT/$s"; done
publish_all "$OUT/tp1"
for p in "${PUBLISHERS[@]}"; do wait "$p" || die "a publisher of tp1 failed (see $OUT/tp1/publish-*.log)"; done
start_hub a
wait_all "$OUT/tp1" "$TP_COUNT" 1800
stop_hub a
publish_all "$OUT/tp2"
for p in "${PUBLISHERS[@]}"; do wait "$p" || die "a publisher of tp2 failed"; done
start_hub a; start_hub b
wait_all "$OUT/tp2" "$TP_COUNT" 1800
python3 - "$OUT" <<'EOF' | tee "$OUT/throughput.txt"
import json, glob, sys
import re
from datetime import datetime
out = sys.argv[1]
def when(s):  # RFC 3339 with up to 9 fractional digits -> seconds
    s = re.sub(r"(\.\d{6})\d+", r"\1", s).replace("Z", "+00:00")
    return datetime.fromisoformat(s).timestamp()
def rate(name):
    want = set(open(f"{out}/{name}/ids").read().split())
    at = {}
    for f in glob.glob(f"{out}/status-*.jsonl"):
        for line in open(f):
            s = json.loads(line)
            if s["basis_id"] in want and s["outcome"] != "QUEUED":
                t = when(s["at"])
                at[s["basis_id"]] = min(t, at.get(s["basis_id"], t))
    ts = sorted(at.values())
    return (len(ts) - 1) / (ts[-1] - ts[0]), ts[-1] - ts[0]
r1, s1 = rate("tp1"); r2, s2 = rate("tp2")
print(f"1 hub : {r1:7.1f} bases/s (first to last answer {s1:.1f} s)")
print(f"2 hubs: {r2:7.1f} bases/s (first to last answer {s2:.1f} s)")
print(f"ratio 2 hubs / 1 hub: {r2 / r1:.2f}  (same run, same machine: 2 cores shared by the 3 broker nodes, 3 stores and the hubs)")
EOF

step "3. the main run: $COUNT bases while both hubs consume; one broker node and one hub stop mid-stream"
ids_of "$OUT/main"
publish_all "$OUT/main"
n=0
while n=$(answered "$OUT/main/ids"); [ "$n" -lt $((COUNT / 4)) ]; do sleep 2; done
echo "  $n answered: stopping broker node ih-$NAME-1@localhost (every client was connected to it)"
broker/ctl stop "$NAME-1"
while n=$(answered "$OUT/main/ids"); [ "$n" -lt $((COUNT / 2)) ]; do sleep 2; done
echo "  $n answered: SIGKILL hub-b (pid ${HUB_PID[b]})"
kill -KILL "${HUB_PID[b]}"; wait "${HUB_PID[b]}" 2>/dev/null || true
for p in "${PUBLISHERS[@]}"; do wait "$p" || die "a publisher of the main run failed (see $OUT/main/publish-*.log)"; done
echo "  every basis confirmed by the cluster (publisher confirms)"
wait_all "$OUT/main" "$COUNT" 3600
echo "  all $COUNT answered by hub-a; stopping it"
stop_hub a
echo "  hub-a reconnected $(grep -c "reconnected to the broker" "$OUT/hub-a.log" || true) times (to another node)"
echo "  node 1 comes back and rejoins:"
broker/ctl restart "$NAME-1" 2>&1 | tail -n 1
broker/ctl cluster-check "$NAME" || die "after its restart, node 1 is not a member of every quorum queue"

step "4. checks"
# hub-b was killed: nothing signed a head over its last entries. An operator signs one with the
# hub's key before archiving (the entries were already durable; only the signature is new).
"$BIN" audit --log "$OUT/hub-b-log" head --sign-with "$OUT/keys/b/log-signing.key" >/dev/null
"$BIN" audit --log "$OUT/hub-a-log" --log "$OUT/hub-b-log" verify \
    --key "$OUT/keys/a/log-signing.pub" --key "$OUT/keys/b/log-signing.pub" | tee "$OUT/verify.txt" ||
    die "the disclosure logs do not verify"
"$BIN" audit --log "$OUT/hub-a-log" --log "$OUT/hub-b-log" query --limit 0 --format json >"$OUT/all-entries.json"
"$BIN" audit --log "$OUT/hub-a-log" --log "$OUT/hub-b-log" export --out "$OUT/audit-export.jsonl" | sed 's/^/  /'
"$BIN" audit check-proof "$OUT/audit-export.jsonl" \
    --key "$OUT/keys/a/log-signing.pub" --key "$OUT/keys/b/log-signing.pub" | sed 's/^/  /' ||
    die "the export of both logs does not check offline"
for org in "${REGIONS[@]}"; do
    after=""; : >"$OUT/store-$org/ids"
    while :; do
        page=$("$BIN" fetch --store "${STORE_URL[$org]}" --ca "$OUT/pki/ca.pem" \
            --cert "$OUT/pki/staff-$org.pem" --key "$OUT/pki/staff-$org.key" \
            list --json --limit 1000 ${after:+--after "$after"})
        python3 -c 'import json,sys; [print(i["id"]) for i in json.load(sys.stdin)["items"]]' <<<"$page" >>"$OUT/store-$org/ids"
        after=$(python3 -c 'import json,sys; n=json.load(sys.stdin).get("next_after"); print(n if n is not None else "")' <<<"$page")
        [ -n "$after" ] || break
    done
done
python3 - "$OUT" "$BIN" "$PREFETCH" "$IN_FLIGHT" "$PER_RECEIVER" <<'EOF'
import collections, glob, json, re, subprocess, sys
out, binary, prefetch, in_flight = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
per_receiver = int(sys.argv[5])
breaches = []
def breach(msg):
    breaches.append(msg); print("  BREACH:", msg)

manifest = {}
for s in ("tp1", "tp2", "main"):
    for line in open(f"{out}/{s}/manifest.jsonl"):
        m = json.loads(line); manifest[m["id"]] = m
statuses = collections.defaultdict(list)
for f in glob.glob(f"{out}/status-*.jsonl"):
    for line in open(f):
        s = json.loads(line)
        if s["outcome"] != "QUEUED":  # not an answer: word that its delivery is held up
            statuses[s["basis_id"]].append(s)

# No loss: every basis has an answer, and all answers for one basis agree.
missing = [b for b in manifest if b not in statuses]
if missing: breach(f"{len(missing)} bases never answered, e.g. {missing[:3]}")
outcome = {}
for b, ss in statuses.items():
    kinds = {s["outcome"] for s in ss}
    if len(kinds) != 1: breach(f"{b}: contradicting answers {kinds}")
    outcome[b] = ss[0]["outcome"]
answered_twice = sum(1 for ss in statuses.values() if len(ss) > 1)
print(f"  {len(outcome)} of {len(manifest)} bases answered: " + ", ".join(
    f"{n} {o}" for o, n in collections.Counter(outcome.values()).most_common())
    + f"; {answered_twice} answered twice (redelivered after a node or a hub went away)")

# No duplicate delivery: each disclosed basis once in its receiver's store, nothing else there.
for org in ("2321000016", "2321000115", "2321000131"):
    ids = open(f"{out}/store-{org}/ids").read().split()
    dup = [i for i, n in collections.Counter(ids).items() if n > 1]
    if dup: breach(f"store {org} holds {len(dup)} bases twice, e.g. {dup[:3]}")
    want = {b for b, o in outcome.items() if o == "OK" and manifest[b]["receiver"] == org}
    got = set(ids)
    if got != want:
        breach(f"store {org}: {len(want - got)} delivered bases missing, {len(got - want)} unexpected")
    else:
        print(f"  store {org}: {len(ids)} bases, each once, exactly the OK answers for it")

# The logs: per basis, exactly the entries its outcome calls for, across both logs. The decide
# stage's account (received + the decision) is whole in the log of the hub that decided; a
# disclosed basis's `delivered` is in the log of the hub whose deliver stage took it from the
# receiver's queue — the same hub or the other, which is why an auditor reads both logs as one.
DECIDE = {"OK": ["received", "disclosed"], "WITHHELD": ["received", "withheld"],
          "REJECTED": ["received", "rejected"], "ERROR": ["received", "rejected"]}
EXPECT = {o: ev + (["delivered"] if o == "OK" else []) for o, ev in DECIDE.items()}
entries = json.load(open(f"{out}/all-entries.json"))["entries"]
by_basis = collections.defaultdict(lambda: collections.defaultdict(list))
for e in sorted(entries, key=lambda e: (e["log"], e["seq"])):
    r = e["record"]
    if e["log"] != r["instance"]: breach(f"entry {e['log']}#{e['seq']} says instance {r['instance']}")
    by_basis[r["basis_id"]][e["log"]].append(r["event"])
extra = set(by_basis) - set(manifest)
if extra: breach(f"{len(extra)} bases in the logs that nobody sent, e.g. {sorted(extra)[:3]}")
two_accounts = split = 0
for b, o in outcome.items():
    want = DECIDE[o]
    logs = by_basis.get(b, {})
    decided = {l: [e for e in ev if e != "delivered"] for l, ev in logs.items()}
    decided = {l: ev for l, ev in decided.items() if ev}
    if not any(ev == want for ev in decided.values()):
        breach(f"{b} ({o}): no log holds the whole decision {want}: {dict(logs)}"); continue
    for l, ev in decided.items():
        if ev != want[:len(ev)]:
            breach(f"{b} ({o}): log {l} holds {ev}, not a prefix of {want}")
    delivered = {l: ev.count("delivered") for l, ev in logs.items() if "delivered" in ev}
    if o == "OK" and not delivered: breach(f"{b} (OK): no log holds its delivery: {dict(logs)}")
    if o != "OK" and delivered: breach(f"{b} ({o}): delivered, but answered {o}")
    if any(n > 1 for n in delivered.values()): breach(f"{b}: delivered twice in one log: {dict(logs)}")
    if len(decided) > 1 or len(delivered) > 1: two_accounts += 1
    elif delivered and set(delivered) != set(decided): split += 1
# A basis can have two accounts (its decision in both logs, or its delivery) only if (a) it was
# in flight at a hub when that hub or its broker node went away — at most one window per hub per
# disruption (node stop: both hubs; hub kill: one), the decide stage's prefetch plus each
# receiver's deliver stage's — or (b) its publisher lost the confirm when the node stopped and
# published it again, and the copy went to the other hub: one in-flight window per publisher.
bound = 3 * (prefetch + 3 * per_receiver) + 3 * in_flight
print(f"  {len(entries)} log entries; {split} bases decided by one hub and delivered by the other; "
      f"{two_accounts} with a decision or a delivery in both logs "
      f"(in flight when a node or hub went away; bound {bound})")
if two_accounts > bound: breach(f"{two_accounts} bases logged twice across the hubs, more than {bound}")

# The cross-log query by patient returns exactly the expected entries.
key = f"{out}/keys/patient-hmac.key"
pat_re = re.compile(rb"<(?:\w+:)?patientIdentity>\s*<(?:\w+:)?root>[^<]*</(?:\w+:)?root>\s*<(?:\w+:)?extension>([^<]+)<")
patients = collections.defaultdict(set)
main_ids = [l.strip() for l in open(f"{out}/main/ids")]
two = {b for b in outcome if len(by_basis.get(b, {})) > 1}
sample = sorted(two)[:10] + main_ids[::max(1, len(main_ids) // 15)][:15]
for b in sample:
    m = manifest[b]
    s = next(x for x in ("tp1", "tp2", "main") if b in open(f"{out}/{x}/ids").read())
    for pid in pat_re.findall(open(f"{out}/{s}/{m['file']}", "rb").read()):
        patients[pid.decode()].add(b)
if not patients: breach("no patient ids found in the sample documents (pattern?)")
checked = 0
for pid in sorted(patients)[:25]:
    q = subprocess.run([binary, "audit", "--log", f"{out}/hub-a-log", "--log", f"{out}/hub-b-log",
                        "query", "--patient", pid, "--patient-key", key, "--limit", "0",
                        "--format", "json"], capture_output=True, text=True)
    if q.returncode != 0: breach(f"query by patient failed: {q.stderr.strip()}"); continue
    if pid in q.stdout or pid in q.stderr: breach("the patient id was printed")
    got = collections.Counter((e["log"], e["record"]["basis_id"], e["record"]["event"])
                              for e in json.loads(q.stdout)["entries"])
    want = collections.Counter()
    for b, logs in by_basis.items():
        if b in patients[pid]:
            for l, ev in logs.items():
                for x in ev: want[(l, b, x)] += 1
    # Every basis of this patient, and only those: the ones we know of must all be there.
    got_bases = {b for (_, b, _) in got}
    if not patients[pid] <= got_bases:
        breach(f"patient query misses bases {sorted(patients[pid] - got_bases)[:3]}")
    for (l, b, ev), n in got.items():
        if n != 1: breach(f"patient query: {l} {b} {ev} appears {n} times")
        if ev not in EXPECT[outcome.get(b, "OK")]:
            breach(f"patient query: {b} ({outcome.get(b)}) has an entry {ev}")
    sub = {k: v for k, v in got.items() if k[1] in patients[pid]}
    if sub != +want: breach(f"patient query for bases {sorted(patients[pid])[:2]}: entries differ from the logs' accounts")
    checked += 1
print(f"  cross-log query by patient: {checked} patients checked (their bases include "
      f"{len([b for b in sample if b in two])} with accounts in both logs): exactly the expected entries")
if breaches:
    print(f"\n{len(breaches)} BREACHES"); sys.exit(1)
print("\nALL CHECKS HOLD")
EOF
echo
cat "$OUT/throughput.txt"
echo "whole run $(( $(date +%s) - START )) s"
