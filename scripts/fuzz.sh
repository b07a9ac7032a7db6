#!/usr/bin/env bash
# make fuzz: run every cargo-fuzz target (fuzz/fuzz_targets/) for a bounded time each.
#
#   FUZZ_SECONDS=600 make fuzz          # per target (default 600, the project's standard run)
#   FUZZ_TARGETS="validate" make fuzz   # a subset
#   FUZZ_JOBS=1                         # libFuzzer workers per target (default 1)
#
# Seeds: generated bases of 1-100 lines from `invoice-hub gen`, the documents under tests/data
# and tests/hostile, the example policy. A crash stops the run: the input is saved under
# fuzz/artifacts/<target>/; copy it to fuzz/regressions/<target>/ so `make test` replays it
# (tests/fuzz_regressions.rs), then fix the code.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SECONDS_EACH=${FUZZ_SECONDS:-600}
TARGETS=${FUZZ_TARGETS:-"validate policy_assess policy_file"}
JOBS=${FUZZ_JOBS:-1}

rustup toolchain list | grep -q '^nightly' || {
    echo "make fuzz: cargo-fuzz needs the nightly toolchain (rustup toolchain install nightly)" >&2
    exit 1
}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

# Seeds, made once per corpus directory (the corpus grows with every run and is not committed).
seed() {
    local target=$1 dir=fuzz/corpus/$1
    [ -d "$dir" ] && [ -n "$(ls -A "$dir")" ] && return
    mkdir -p "$dir"
    case $target in
        policy_file)
            cp deploy/policies/region-halland.toml "$dir/"
            ;;
        *)
            local tmp
            tmp=$(mktemp -d)
            for lines in 1 3 10 100; do
                cargo run -q --bin invoice-hub -- gen --count 4 --lines "$lines" --seed "$lines" \
                    --month 2026-10 --today 20261123 \
                    --out "$tmp/$lines" >/dev/null
                for f in "$tmp/$lines"/*.xml; do cp "$f" "$dir/gen-$lines-$(basename "$f")"; done
            done
            rm -rf "$tmp"
            cp tests/data/*.xml "$dir/"
            if [ -d tests/hostile ]; then
                find tests/hostile -type f ! -name '*.toml' ! -name '*.md' -size -512k \
                    -exec cp {} "$dir/" \;
            fi
            ;;
    esac
}

status=0
for t in $TARGETS; do
    seed "$t"
    echo "== fuzz $t for ${SECONDS_EACH}s (corpus fuzz/corpus/$t: $(ls fuzz/corpus/"$t" | wc -l) inputs)"
    if ! cargo +nightly fuzz run "$t" "fuzz/corpus/$t" -- \
        -max_total_time="$SECONDS_EACH" -max_len=262144 -rss_limit_mb=4096 \
        -jobs="$JOBS" -workers="$JOBS" -print_final_stats=1; then
        echo "make fuzz: $t found a crash: see fuzz/artifacts/$t/ (add it to fuzz/regressions/$t/)" >&2
        status=1
    fi
done
exit $status
