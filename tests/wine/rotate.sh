#!/usr/bin/env bash
# The Windows build under Wine (issue 4): cross-compiles logwarden.exe and
# the rotation driver (tests/wine/rotate.rs), then runs the driver, which
# runs the agent and acts as the SMS writer renaming its log to `.lo_`
# while the agent holds it. Installs what it needs (Debian packages, the
# Rust target, the bcryptprimitives.dll stand-in from ../shared/wine).
# Exit 0 when every line arrived once, in order.
set -euo pipefail
cd "$(dirname "$0")/../.."

target=x86_64-pc-windows-gnu
shim=../shared/wine

if ! command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 || ! command -v wine >/dev/null 2>&1; then
  echo "-- installing MinGW-w64 and Wine"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q gcc-mingw-w64-x86-64 wine >/dev/null
fi
rustup target list --installed | grep -qx "$target" || rustup target add "$target"

echo "-- building logwarden.exe"
# Warnings are errors here: clippy on Linux does not see cfg(windows) code.
# (With --target, RUSTFLAGS reaches only the target's crates, so the host's
# build scripts and macros are shared with the normal build.)
RUSTFLAGS="-D warnings" cargo build --locked --target "$target" --bin logwarden
echo "-- building the rotation driver"
out=target/$target/wine
mkdir -p "$out"
rustc --edition 2024 --target "$target" -C linker=x86_64-w64-mingw32-gcc \
  -o "$out/rotate.exe" tests/wine/rotate.rs

# A Wine prefix of our own (not ~/.wine), with Rust's missing import.
export WINEPREFIX="$PWD/$out/prefix" WINEDEBUG=-all
dll="$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
if [ ! -f "$dll" ]; then
  echo "-- creating the Wine prefix"
  wine cmd /c exit >/dev/null 2>&1 || true
  x86_64-w64-mingw32-gcc -shared -o "$out/bcryptprimitives.dll" \
    "$shim/bcryptprimitives.c" "$shim/bcryptprimitives.def" -ladvapi32
  cp "$out/bcryptprimitives.dll" "$dll"
fi

echo "-- running under Wine"
wine "$out/rotate.exe" "target/$target/debug/logwarden.exe"
wineserver -k >/dev/null 2>&1 || true
