#!/usr/bin/env bash
# bthelper on Windows: cross-builds bthelper.exe with MinGW-w64 and runs it under Wine
# (helper/tests/windows_wine.rs): install/uninstall/doctor against the registry, the browser's
# relay over a named-pipe daemon downloading from a Linux seeder on 127.0.0.1, binary stdio and
# bad frames. Installs what it needs (idempotent); a missing Windows target is an error, never a
# skip. Prints how long the cross build and the Wine prefix took.
set -euo pipefail
cd "$(dirname "$0")/../.."

target=x86_64-pc-windows-gnu
packages=(wine64 gcc-mingw-w64-x86-64)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing Debian packages: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q "${missing[@]}"
fi
if ! rustup target list --installed | grep -qx "$target"; then
  rustup target add "$target" || {
    echo "FAIL: cannot install the Rust target $target: the Windows build cannot be tested" >&2
    exit 1
  }
fi

now() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }

echo "-- cross-building bthelper.exe ($target; linker from .cargo/config.toml)"
t=$(now)
cargo build -p bthelper --target "$target"
echo "cross build: $(took "$t")"
# Cargo's output honours CARGO_TARGET_DIR (a CI cache may point it elsewhere).
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
exe="$target_dir/$target/debug/bthelper.exe"
[ -f "$exe" ] || { echo "FAIL: the cross build left no $exe" >&2; exit 1; }

# A prefix of our own, kept between runs (creating one takes ~10 s); WINEDEBUG=-all keeps Wine's
# fixme chatter out of the output. Only this prefix's wineserver is stopped at the end.
export WINEPREFIX="${SWARMLINK_WINEPREFIX:-$PWD/target/wine-prefix}" WINEDEBUG=-all
trap 'wineserver -k >/dev/null 2>&1 || true' EXIT
if [ ! -f "$WINEPREFIX/system.reg" ]; then
  echo "-- creating the Wine prefix $WINEPREFIX"
  t=$(now)
  mkdir -p "$WINEPREFIX"
  wineboot --init >/dev/null 2>&1 || true
  wineserver -w
  [ -f "$WINEPREFIX/system.reg" ] || { echo "FAIL: wineboot did not create $WINEPREFIX" >&2; exit 1; }
  echo "wine prefix: $(took "$t")"
fi
# Wine 8 lacks bcryptprimitives.dll, which Rust's std imports (ProcessPrng); Wine 9+ ships it.
# tests/windows/bcryptprimitives.c is a stand-in for the test prefix only.
dll="$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
if [ ! -f "$dll" ]; then
  echo "-- adding the bcryptprimitives.dll stand-in (Wine $(wine --version 2>/dev/null))"
  x86_64-w64-mingw32-gcc -O2 -shared -o "$dll" tests/windows/bcryptprimitives.c -lbcrypt
fi

# One wineserver (and Wine's system processes) for the whole run, started with none of the tests'
# stdio: the first Wine process of a session starts them and they inherit its stdio.
wineserver -p </dev/null >/dev/null 2>&1
wine cmd /c exit </dev/null >/dev/null 2>&1 || true

# Reads the daemon pipe's DACL back for the tests (tests/windows/pipe_dacl.c).
probe="$target_dir/$target/pipe_dacl.exe"
x86_64-w64-mingw32-gcc -municode -O2 -o "$probe" tests/windows/pipe_dacl.c -ladvapi32

echo "-- bthelper.exe under Wine"
t=$(now)
SWARMLINK_WINE_EXE="$exe" SWARMLINK_WINE_PIPE_PROBE="$probe" cargo test -p bthelper --test windows_wine -- --nocapture --test-threads=2
echo "wine tests: $(took "$t")"
