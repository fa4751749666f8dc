#!/usr/bin/env bash
# orrery set-up and entry points. Installs what is missing (Debian 12), configures, builds.
#   ./build.sh demo   replay a bundled H100 capture: predicted vs measured step, bottlenecks, Perfetto timeline
#   ./build.sh test   build and run the whole test suite (ctest)
#   ./build.sh build  only build
set -euo pipefail
cd "$(dirname "$0")"
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}

need_pkgs=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for p in build-essential cmake pkg-config libsystemc-dev libboost-graph-dev nlohmann-json3-dev \
         libgtest-dev zlib1g-dev libprotobuf-dev protobuf-compiler; do
  have_pkg "$p" || need_pkgs+=("$p")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "installing: ${need_pkgs[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_pkgs[@]}"
fi

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
    configure_and_build
    cd "$BUILD_DIR" && ctest --output-on-failure -j "$JOBS"
    ;;
  *) echo "usage: $0 [demo|test|build]" >&2; exit 2 ;;
esac
