#!/usr/bin/env bash
# orrery set-up and entry points. Installs what is missing (Debian 12), configures, builds.
#   ./build.sh demo   replay a bundled H100 capture: predicted vs measured step, bottlenecks, Perfetto timeline
#   ./build.sh test   build and run the whole test suite (ctest)
#   ./build.sh emulate  run a user-style PyTorch training script at 64 ranks with no GPU (orrery emulate)
#   ./build.sh build  only build
set -euo pipefail
cd "$(dirname "$0")"
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}

need_pkgs=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for p in build-essential cmake pkg-config libsystemc-dev libboost-graph-dev nlohmann-json3-dev \
         libgtest-dev zlib1g-dev libprotobuf-dev protobuf-compiler \
         pybind11-dev python3-dev libopenmpi-dev openmpi-bin python3-matplotlib python3-pandas; do
  have_pkg "$p" || need_pkgs+=("$p")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "installing: ${need_pkgs[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_pkgs[@]}"
fi

# PyTorch for `orrery emulate` (Debian 12: python3-torch 1.13, CPU, for /usr/bin/python3).
# Installed by `test` (the emulate tests need it) and `emulate`; ORRERY_NO_TORCH=1 skips it (the
# emulate tests then skip). Measured here: apt-get update + install with recommends took 10 min
# (228 packages); without recommends far fewer packages come.
need_torch() {
  [ "${ORRERY_NO_TORCH:-0}" = 1 ] && return 0
  [ -f /usr/lib/python3/dist-packages/torch/__init__.py ] && return 0
  echo "installing: python3-torch (for orrery emulate)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-torch
}

# configure_and_build [TARGET]: the whole project, or only TARGET (demo: the orrery binary, not
# the test suite and benchmarks).
configure_and_build() {
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD_DIR" -j "$JOBS" ${1:+--target "$1"}
}

case "${1:-demo}" in
  build) configure_and_build ;;
  demo)
    configure_and_build orrery
    mkdir -p out/demo
    "$BUILD_DIR/orrery" replay examples/bundles/gpt_b --hw h100 --mode measured \
        --timeline out/demo/timeline.json --json out/demo/result.json
    echo
    echo "Perfetto timeline: out/demo/timeline.json (open in https://ui.perfetto.dev)"
    ;;
  test)
    need_torch
    configure_and_build
    cd "$BUILD_DIR" && ctest --output-on-failure -j "$JOBS"
    ;;
  emulate)
    # the README's emulate example: the 64-rank TP x PP toy, no GPU
    need_torch
    configure_and_build
    "$BUILD_DIR/orrery" emulate examples/emulate/gpt_tp_pp.py --world-size 64 --system dgx-h100 --nodes 8 \
        --hw h100 -- --tp 2 --pp 2
    ;;
  *) echo "usage: $0 [demo|test|emulate|build]" >&2; exit 2 ;;
esac
