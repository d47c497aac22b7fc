#!/usr/bin/env bash
# Byte-identity check for refactors and optimisations: runs every bundled scenario (plus a
# sweep and a log replay) with the sessim built from BASE (default: HEAD, i.e. the last commit)
# and with the working tree's, and compares every file written, charts and report included.
#
#   scripts/check-outputs.sh [BASE_REV]
#
# Exit 0 when every file is identical; 1 with the list of files that differ. `busy-day` runs
# 20 simulated minutes with its crash moved to minute 10 (a whole day takes minutes). The base
# build is cached in target/check-base/ (a worktree at BASE, built once per revision).
# BASE_BIN=path uses an already-built sessim for BASE instead (several branches checked against
# one base need not build it each), and BASE_OUT=dir keeps the base's outputs there and reuses
# them when the directory already exists; NEW_OUT=dir keeps the working tree's outputs there.
set -euo pipefail
cd "$(dirname "$0")/.."
base_rev=$(git rev-parse "${1:-HEAD}")
work=$(mktemp -d)
trap 'git worktree remove --force "$work/base-src" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

echo "== building the working tree"
cargo build --release -q
cp target/release/sessim "$work/sessim-new"

if [ -n "${BASE_BIN:-}" ]; then
    echo "== using $BASE_BIN for $base_rev"
    cp "$BASE_BIN" "$work/sessim-base"
else
    echo "== building $base_rev"
    git worktree add -q --detach "$work/base-src" "$base_rev"
    CARGO_TARGET_DIR="$PWD/target/check-base" cargo build --release -q --manifest-path "$work/base-src/Cargo.toml"
    cp target/check-base/release/sessim "$work/sessim-base"
fi

run_all() { # BIN OUT
    local bin=$1 out=$2
    mkdir -p "$out"
    for f in scenarios/*.toml; do
        local name; name=$(basename "$f" .toml)
        local extra=()
        if [ "$name" = busy-day ]; then
            extra=(--set 'duration="20m"' --set 'warmup="2m"' --set 'output.bucket="1m"' --set 'faults[0].at="10m"')
        fi
        "$bin" run "$f" --out "$out/run-$name" --quiet --jobs 2 "${extra[@]}" > "$out/run-$name.stdout"
    done
    "$bin" sweep scenarios/capacity-sweep.toml --out "$out/sweep-capacity" --quiet --jobs 2 > /dev/null
    "$bin" replay scenarios/data/replay-example.log --balancer tests/data/nginx-ip_hash-3111-down.nginx.conf \
        --out "$out/replay-example" --quiet > /dev/null
    # A replay's files name the log and the config by absolute path: write the checkout's root
    # as a placeholder, so that outputs made in two checkouts (BASE_OUT) compare.
    grep -rlF "$PWD/" "$out" --include='*.toml' --include='*.csv' --include='*.html' \
        | while read -r f; do sed -i "s|$PWD/|@ROOT@/|g" "$f"; done
}

echo "== running every bundled scenario with both"
base_out="$work/base"
if [ -n "${BASE_OUT:-}" ]; then
    base_out=$BASE_OUT
    if [ -d "$base_out" ]; then
        echo "== reusing the base outputs in $base_out"
    else
        run_all "$work/sessim-base" "$base_out.partial" && mv "$base_out.partial" "$base_out"
    fi
else
    run_all "$work/sessim-base" "$base_out"
fi
new_out="${NEW_OUT:-$work/new}"
rm -rf "$new_out"
run_all "$work/sessim-new" "$new_out"

if diff -rq "$base_out" "$new_out"; then
    echo "identical: $(find "$new_out" -type f | wc -l) files"
else
    echo "outputs differ (above)" >&2
    exit 1
fi
