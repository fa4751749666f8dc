#!/usr/bin/env bash
# Compiles the restatements here to Hopper SASS and prints the instruction counts that
# docs/codesign.md ("What the compiler says about the instruction counts") quotes.
#   validation/sass/run.sh [OUT_DIR]
# Needs nvcc (any CUDA that emits sm_90 PTX) and a ptxas + nvdisasm pair that read each other's
# cubins (the same CUDA). NVCC, PTXAS and NVDISASM override the tools; with a newer nvcc than
# ptxas, the PTX's .version line is lowered to what the ptxas reads (PTX_VERSION, default 7.8).
# Nothing in the build or the tests uses this: it checks hand counts, it is not a dependency.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$(mktemp -d)}
mkdir -p "$out"
NVCC=${NVCC:-nvcc}; PTXAS=${PTXAS:-ptxas}; NVDISASM=${NVDISASM:-nvdisasm}
for t in "$NVCC" "$PTXAS" "$NVDISASM"; do
  command -v "$t" >/dev/null || { echo "run.sh: error: $t: not found (set NVCC / PTXAS / NVDISASM)" >&2; exit 2; }
done
for k in strided_elementwise cast_copy layer_norm_forward embedding_backward; do
  "$NVCC" -arch=sm_90 -ptx -O3 -o "$out/$k.ptx" "$here/$k.cu"
  sed -i "s/^\.version .*/.version ${PTX_VERSION:-7.8}/" "$out/$k.ptx"
  "$PTXAS" -arch=sm_90 -O3 "$out/$k.ptx" -o "$out/$k.cubin"
  "$NVDISASM" -c "$out/$k.cubin" > "$out/$k.sass"
done
echo "strided elementwise kernel, one element per thread (instructions one warp executes):"
for ops in 2 3; do
  for dims in 1 2 3 4; do
    printf '  %d operands, %d dims: ' "$ops" "$dims"
    python3 "$here/walk.py" "$out/strided_elementwise.sass" "_Z7stridedILi${ops}ELi1EEvi4CalcIXT_EE4PtrsIXT_EE" \
      --byte 0x214="$dims" | head -1
  done
done
echo "unrolled cast copy, float -> bfloat16, 4 elements per thread:"
printf '  '; python3 "$here/walk.py" "$out/cast_copy.sass" cast_copy --byte 0x228=6 --byte 0x229=12 | head -1
echo "layer-norm forward: SASS in $out/layer_norm_forward.sass; regions.py counts address ranges (see docs)"
echo "embedding backward: SASS in $out/embedding_backward.sass; the order of its global loads (LDG) is what the model takes (see README)"
