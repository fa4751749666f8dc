#!/usr/bin/env bash
# Leave-one-out check of the elementwise kernel-family efficiencies (docs/validation.md): for each
# bundle, fit unrolled_/strided_elementwise_efficiency on the OTHER bundles' measured kernels
# (orrery calibrate --kernel-families), then predict the held-out bundle's step in roofline mode
# with them, next to the prediction without them (both at 1). measured.json is never used to fit.
#   BUILD_DIR=build validation/scripts/loo_kernel_families.sh [examples/bundles/*]
set -euo pipefail
cd "$(dirname "$0")/../.."
O=${BUILD_DIR:-build}/orrery
bundles=("$@")
[ ${#bundles[@]} -gt 0 ] || bundles=(examples/bundles/*)
# Families start at 1 (not the preset's fitted values): a family the others cannot fit stays at 1.
ones="--set unrolled_elementwise_efficiency=1 --set strided_elementwise_efficiency=1"
printf '%-12s %-62s %12s %12s\n' bundle "fitted on the others" "without" "with"
for b in "${bundles[@]}"; do
  others=()
  for o in "${bundles[@]}"; do [ "$o" != "$b" ] && others+=("$o"); done
  sets=$("$O" calibrate --kernel-families "${others[@]}" | sed -n 's/^use: *\(.*\)   (or.*/\1/p')
  err() { "$O" validate "$b" --mode roofline --tolerance 0 --truth "$(dirname "$b")" "$@" | awk 'NR==2 {print $(NF-1)}'; }
  # shellcheck disable=SC2086
  printf '%-12s %-62s %12s %12s\n' "$(basename "$b")" "${sets:-(none)}" \
    "$(err $ones)" "$(err $ones $sets)"
done
