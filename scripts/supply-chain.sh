#!/usr/bin/env bash
# Supply-chain checks: `cargo deny check` (advisories, licences, sources, bans; deny.toml) on
# every crate in Cargo.lock. This machine reaches crates.io but not GitHub, so the RustSec
# advisory database comes from the snapshot committed in supply-chain/advisory-db.bundle:
#
#   scripts/supply-chain.sh            install cargo-deny (pinned) if needed, check
#   scripts/supply-chain.sh --refresh  where GitHub is reachable: replace the snapshot with
#                                      today's database, then check
#
# cargo-deny is installed under target/ci-tools (about 2 minutes, once per clone).
set -euo pipefail
cd "$(dirname "$0")/.."

DENY_VERSION=0.20.2
TOOLS=target/ci-tools
BUNDLE=supply-chain/advisory-db.bundle
# Where deny.toml's db-path and cargo-deny's naming of the default database URL put it.
DB=target/advisory-dbs/advisory-db-3157b0e258782691

if [ "${1:-}" = --refresh ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  git clone -q --depth 1 https://github.com/rustsec/advisory-db "$work/upstream"
  upstream=$(git -C "$work/upstream" log -1 --format=%H)
  date=$(git -C "$work/upstream" log -1 --format=%cI)
  git init -q -b main "$work/snapshot"
  (cd "$work/upstream" && tar -c crates rust LICENSE.txt README.md support.toml) | tar -x -C "$work/snapshot"
  git -C "$work/snapshot" add -A
  GIT_AUTHOR_DATE=$date GIT_COMMITTER_DATE=$date git -C "$work/snapshot" -c user.name=PaperTrader \
    -c user.email=dev@papertrader.invalid commit -qm "rustsec/advisory-db $upstream ($date), crates/ and rust/ only"
  git -C "$work/snapshot" bundle create "$PWD/$BUNDLE" main
  echo "snapshot replaced: rustsec/advisory-db $upstream of $date"
fi

if ! [ -x "$TOOLS/bin/cargo-deny" ] || [ "$("$TOOLS/bin/cargo-deny" --version)" != "cargo-deny $DENY_VERSION" ]; then
  echo "installing cargo-deny $DENY_VERSION into $TOOLS"
  cargo install --quiet --locked --version "$DENY_VERSION" --root "$TOOLS" cargo-deny
fi

rm -rf "$DB"
mkdir -p "$(dirname "$DB")"
git clone -q -b main "$BUNDLE" "$DB"
echo "advisory database: $(git -C "$DB" log -1 --format='%s')"
# cargo-deny reads `cargo metadata` offline, which needs every crate of Cargo.lock on disk,
# those of other platforms too (a build fetches only this one's): fetch them from crates.io.
cargo fetch --locked --quiet
"$TOOLS/bin/cargo-deny" --offline check
