#!/bin/bash
# One lent-GPU session's measurements, in priority order, each step time-boxed and packed into
# $OUT as soon as it ends (a step that fails or runs out of time loses only itself):
#   1. host_phases.py: where the DDP step's host time goes without the profiler (issue 12)
#   2. device_micro.py --host-only: this host's dispatch table (is it the capture machine's?)
#   3. kernel_probe.py under Kineto and under Nsight Compute (issue 13's largest misses)
#   4. capture.py: gpt_a_ddp again, the same GPT without DDP, and workloads not in the fixtures
#      (resnet50, decode, prefill) as bundles
# Usage on the GPU machine:  OUT=/some/dir bash validation/capture/device_session.sh
set -u
OUT=${OUT:-/tmp/orrery_out}
W=$OUT/w
mkdir -p "$W"
cd "$(dirname "$0")/../.." || exit 1
exec > >(tee -a "$OUT/log.txt") 2>&1
export PYTHONUNBUFFERED=1 MASTER_ADDR=127.0.0.1 RANK=0 WORLD_SIZE=1 LOCAL_RANK=0
date -u
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,clocks.max.sm,power.limit --format=csv
nproc; lscpu | grep -E 'Model name|^CPU\(s\)'
python3 -c "import torch; print(torch.__version__, torch.cuda.get_device_name(0))"

step() {  # step NAME SECONDS CMD...: run, time-box, report
  local name=$1 t=$2 s rc
  shift 2
  echo "=== $name"
  s=$(date +%s)
  timeout "$t" "$@"
  rc=$?
  echo "=== $name rc=$rc $(( $(date +%s) - s )) s"
}
pack() {  # pack ARCHIVE FILES...: what exists of FILES, into $OUT/ARCHIVE
  local a=$1
  shift
  (cd "$W" && ls -d "$@" 2>/dev/null | xargs -r tar czf "$OUT/$a")
}

MASTER_PORT=29611 step phases 150 python3 validation/capture/host_phases.py --model gpt --out "$W/phases_gpt.json" --micro
step host_micro 60 python3 validation/capture/device_micro.py --host-only -o "$W/host_dispatch.json"
pack a_host.tgz phases_gpt.json host_dispatch.json

step probe_kineto 90 python3 validation/capture/kernel_probe.py --mode kineto --out "$W/probe.json"
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
if [ -n "$NCU" ]; then
  step probe_ncu 150 "$NCU" --profile-from-start off --clock-control none --nvtx --csv --page raw \
    --section SpeedOfLight --section LaunchStats --section Occupancy --section WarpStateStats \
    --section MemoryWorkloadAnalysis --section InstructionStats --section ComputeWorkloadAnalysis \
    python3 validation/capture/kernel_probe.py --mode ncu > "$W/ncu.csv" 2> "$W/ncu.err"
  tail -3 "$W/ncu.err"
else
  echo "no ncu"
fi
pack b_probe.tgz probe.json probe.json.trace.json.gz ncu.csv ncu.err

cap() {  # cap NAME SECONDS ARGS...
  local n=$1 t=$2
  shift 2
  MASTER_PORT=$((29620 + RANDOM % 300)) step "cap_$n" "$t" python3 validation/capture/capture.py --name "$n" --out "$W/$n" "$@"
}
cap gpt_a_ddp 90 --model gpt --ddp
cap gpt_a 90 --model gpt
pack c_gpt.tgz gpt_a_ddp gpt_a
cap resnet50 120 --model resnet50
pack d_resnet.tgz resnet50
cap decode 90 --model decode
cap prefill 90 --model prefill
pack e_infer.tgz decode prefill
date -u
