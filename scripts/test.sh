#!/usr/bin/env bash
# The one command that runs every test: installs what the tests need, then lints, then tests.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-test-deps.sh

echo "== cargo fmt"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo build (the binaries the cross-part tests run)"
cargo build --workspace --bins --locked
echo "== cargo test"
# The binaries are current: tests/src/lib.rs's bin() need not run cargo again in each test process.
SWARMLINK_BINS_BUILT=1 cargo test --workspace --locked

for stage in scripts/test.d/*.sh; do
  [ -e "$stage" ] || continue
  echo "== $stage"
  bash "$stage"
done
