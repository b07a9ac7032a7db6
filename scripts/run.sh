#!/usr/bin/env bash
# `make run`: what the exchange can show today. Grows with the project (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${CARGO_TARGET_DIR:-target}/release/invoice-hub
OUT=run/demo
rm -rf "$OUT" && mkdir -p "$OUT"
echo "== generating a month of invoice bases (2 000, 5 % with a known rule violation)"
"$BIN" gen --count 2000 --seed 2026 --invalid-rate 0.05 --out "$OUT/bases"
echo "== validating them against the contract's XSD and business rules"
"$BIN" validate "$OUT/bases" --format text >"$OUT/validate.txt" || true
tail -n 5 "$OUT/validate.txt"
