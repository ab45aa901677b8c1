# shellcheck shell=bash
# scripts/lib.sh: helpers shared by scripts/run, scripts/test and scripts/bench.
# Source it; it sets AS_ROOT (the repository root) and moves there, so every
# script works from any directory.

AS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$AS_ROOT" || exit 1

# What the server and its tests need on Debian/Ubuntu (llhttp comes as
# node-llhttp's C sources, compiled by CMake).
AS_DEPS=(build-essential cmake pkg-config liblua5.4-dev lua5.4 libuv1-dev liblmdb-dev
         libjansson-dev libcmocka-dev node-llhttp libssl-dev libjemalloc-dev libzstd-dev python3 curl)
# What only the tests need (scripts/test adds them): Debian's Chromium for the
# console's browser test (driven by playwright-core, which never downloads a
# browser), a font for its screenshots, and jsonschema for checking the API's
# answers against docs/openapi.json.
# shellcheck disable=SC2034  # used by scripts/test
AS_TEST_DEPS=(chromium fonts-dejavu-core python3-jsonschema)

log() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; }
die() { log "$*"; exit 1; }

# The packages among "$@" that are not installed, one per line. One dpkg-query
# call: a prepared machine answers in milliseconds.
missing_packages() {
    local installed
    installed="$(dpkg-query -W -f='${Package} ${Status}\n' "$@" 2>/dev/null \
        | awk '$NF == "installed" && $(NF-1) == "ok" { print $1 }' || true)"
    local p
    for p in "$@"; do
        grep -qxF "$p" <<<"$installed" || printf '%s\n' "$p"
    done
}

# ensure_deps [extra packages...]: install only what is missing. A prepared
# machine never runs apt-get. AS_SKIP_DEPS=1 skips the check (other distros).
# shellcheck disable=SC2120  # the arguments are optional
ensure_deps() {
    [[ "${AS_SKIP_DEPS:-0}" == 1 ]] && return 0
    if ! command -v dpkg-query >/dev/null 2>&1; then
        log "no dpkg: install by hand: ${AS_DEPS[*]} $*"
        return 0
    fi
    local wanted=("${AS_DEPS[@]}" "$@")
    # The build copies the console's chart library out of node_modules (npm
    # ci). A machine with another Node.js (e.g. NodeSource's, whose nodejs
    # package brings npm and conflicts with Debian's npm) keeps it.
    command -v npm >/dev/null 2>&1 || wanted+=(nodejs npm)
    local missing=()
    mapfile -t missing < <(missing_packages "${wanted[@]}")
    ((${#missing[@]} == 0)) && return 0
    log "installing missing packages: ${missing[*]}"
    local sudo=()
    if ((EUID != 0)); then
        command -v sudo >/dev/null 2>&1 || die "not root and no sudo: install ${missing[*]}"
        sudo=(sudo)
    fi
    "${sudo[@]}" apt-get update
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends "${missing[@]}"
}

# ensure_node_modules: `npm ci` when node_modules does not match the
# committed package-lock.json (a stamp keeps the lock's hash), so a prepared
# machine never reaches the registry. --ignore-scripts: none of the packages
# needs an install script, and playwright-core must never fetch a browser.
ensure_node_modules() {
    local want have=""
    want="$(sha256sum package-lock.json | cut -d' ' -f1)"
    [[ -f node_modules/.as-lock.sha256 ]] && have="$(cat node_modules/.as-lock.sha256)"
    [[ "$want" == "$have" ]] && return 0
    [[ "${AS_SKIP_DEPS:-0}" == 1 && -d node_modules ]] && return 0
    command -v npm >/dev/null 2>&1 || die "npm is missing: install nodejs and npm"
    log "installing the npm packages of package-lock.json (npm ci)"
    npm ci --ignore-scripts --no-audit --no-fund >&2 || die "npm ci failed"
    printf '%s\n' "$want" >node_modules/.as-lock.sha256
}

# build [--sanitize]: configure and build everything into build/ (or
# build-san/ with ASan+UBSan). Prints the build directory on stdout.
# shellcheck disable=SC2120  # the argument is optional
build() {
    local dir=build sanitize=OFF
    if [[ "${1:-}" == --sanitize ]]; then
        dir=build-san
        sanitize=ON
    fi
    ensure_node_modules
    local out
    if ! out="$(cmake -S "$AS_ROOT" -B "$AS_ROOT/$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DAS_SANITIZE="$sanitize" 2>&1)"; then
        printf '%s\n' "$out" >&2
        die "cmake configure failed"
    fi
    cmake --build "$AS_ROOT/$dir" --parallel "$(nproc)" >&2 || die "build failed"
    printf '%s\n' "$AS_ROOT/$dir"
}

# A free TCP port on the loopback (the kernel picks it).
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
