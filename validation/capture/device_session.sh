#!/bin/bash
# A lent GPU session's measurements. Each part is time-boxed and packed into $OUT as soon as it ends
# (a part that fails or runs out of time loses only itself). Parts, run in the order given:
#   host     host_micro.py: this machine's host dispatch table
#   phases   host_phases.py: where the DDP step's host time goes without the profiler (issue 12)
#   probe    kernel_probe.py under Kineto and under Nsight Compute (issue 13's largest misses)
#   caps     capture.py: gpt_a_ddp, gpt_a (no DDP), resnet50, decode, prefill as bundles
#   caps2    capture.py: gpt_a_ddp, resnet50, decode again (each with its host table)
#   caps3    capture.py: gpt_a_ddp, resnet50, decode, gpt_a again (host table before the profiler)
#   resnet   host_phases.py on resnet50, and shape_host.py (does host cost depend on shape?)
#   fwd      forward_host.py: what a training forward adds per op (autocast, autograd recording)
#   modules  forward_host.py --modules-only: the nn.Module wrappers' own host cost
#   compile  capture.py: a torch.compile'd GPT (6 layers)
#   caps5    capture.py: the GPT with sdpa pinned to the math and memory-efficient backends,
#            MobileNetV2 (depthwise convolutions)
#   grad     grad_host.py: what recording the autograd graph costs per op family inside a forward
#   align    gemm_align.py: 16-bit GEMMs whose n or k is not a multiple of 8, against aligned ones
#   caps4    capture.py: a BERT-style encoder (training at seq 512 and 128, inference), ResNet-50 in
#            NCHW (bf16 autocast) and in fp32 (TF32 convolutions)
#   busy     host_phases.py plain and busy (GPU pre-occupied) on resnet50 and gpt, and
#            forward_host.py --breakdown: the host's own cost per phase and per module class
# Usage on the GPU machine:  OUT=/some/dir bash validation/capture/device_session.sh host phases caps2
# 2026-11-30: first session `probe caps` (with device_micro.py --host-only's older table), then
# `host phases caps2 host compile`; session 2's in-capture host tables were measured after the
# profiler (slowed 1.3-2.2x) and were removed; capture.py now measures before it: session 3
# `host caps3 host`; session 4 `resnet`; session 5 `host host` (autocast::conv2d added); session 6
# `fwd host`; session 7 `modules host`; on a later machine, session 8 `caps4 busy`, session 9 `align`, session 10 `caps5`, session 11 `grad` (twice; the second run with the table).
set -u
OUT=${OUT:-/tmp/orrery_out}
W=${W:-/tmp/orrery_work}  # outside $OUT: only the packed archives and the log come back
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
cap() {  # cap NAME SECONDS ARGS...
  local n=$1 t=$2
  shift 2
  MASTER_PORT=$((29620 + RANDOM % 300)) step "cap_$n" "$t" python3 validation/capture/capture.py --name "$n" --out "$W/$n" "$@"
}

n_host=0
for part in "$@"; do
  case $part in
    host)
      n_host=$((n_host + 1))
      step "host$n_host" 90 python3 validation/capture/host_micro.py -o "$W/host_table_$n_host.json"
      pack "host$n_host.tgz" "host_table_$n_host.json" ;;
    phases)
      MASTER_PORT=29611 step phases 200 python3 validation/capture/host_phases.py --model gpt --modes plain,ddp \
        --out "$W/phases_gpt.json" --micro
      pack phases.tgz phases_gpt.json ;;
    probe)
      step probe_kineto 90 python3 validation/capture/kernel_probe.py --mode kineto --out "$W/probe.json"
      NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
      if [ -n "$NCU" ]; then
        step probe_ncu 150 "$NCU" --profile-from-start off --clock-control none --nvtx --csv --page raw \
          --section SpeedOfLight --section LaunchStats --section Occupancy --section WarpStateStats \
          --section MemoryWorkloadAnalysis --section InstructionStats --section ComputeWorkloadAnalysis \
          python3 validation/capture/kernel_probe.py --mode ncu > "$W/ncu.csv" 2> "$W/ncu.err"
      fi
      pack probe.tgz probe.json probe.json.trace.json.gz ncu.csv ncu.err ;;
    caps)
      cap gpt_a_ddp 90 --model gpt --ddp --no-host-table
      cap gpt_a 90 --model gpt --no-host-table
      pack c_gpt.tgz gpt_a_ddp gpt_a
      cap resnet50 120 --model resnet50 --no-host-table
      pack d_resnet.tgz resnet50
      cap decode 90 --model decode --no-host-table
      cap prefill 90 --model prefill --no-host-table
      pack e_infer.tgz decode prefill ;;
    caps2)
      cap gpt_a_ddp_2 90 --model gpt --ddp
      cap resnet50_2 90 --model resnet50
      cap decode_2 90 --model decode
      pack caps2.tgz gpt_a_ddp_2 resnet50_2 decode_2 ;;
    caps3)
      cap gpt_a_ddp_3 90 --model gpt --ddp
      cap resnet50_3 90 --model resnet50
      cap decode_3 90 --model decode
      cap gpt_a_3 90 --model gpt
      pack caps3.tgz gpt_a_ddp_3 resnet50_3 decode_3 gpt_a_3 ;;
    resnet)
      step phases_resnet 120 python3 validation/capture/host_phases.py --model resnet50 --modes plain \
        --out "$W/phases_resnet50.json"
      step shape_host 90 python3 validation/capture/shape_host.py -o "$W/shape_host.json"
      pack resnet.tgz phases_resnet50.json shape_host.json ;;
    fwd)
      step forward_host 150 python3 validation/capture/forward_host.py -o "$W/forward_host.json"
      pack fwd.tgz forward_host.json ;;
    modules)
      step modules 60 python3 validation/capture/forward_host.py --modules-only -o "$W/modules_host.json"
      pack modules.tgz modules_host.json ;;
    caps4)
      cap bert 90 --model bert
      cap bert_infer 90 --model bert --infer
      cap bert_s128 90 --model bert --seq 128 --batch 64
      pack caps4_bert.tgz bert bert_infer bert_s128
      cap resnet50_nchw 90 --model resnet50 --memory-format contiguous
      cap resnet50_fp32 90 --model resnet50 --memory-format contiguous --amp none
      pack caps4_resnet.tgz resnet50_nchw resnet50_fp32 ;;
    busy)
      MASTER_PORT=29613 step busy_resnet 120 python3 validation/capture/host_phases.py --model resnet50 --modes plain,busy \
        --out "$W/busy_resnet50.json"
      MASTER_PORT=29612 step busy_gpt 120 python3 validation/capture/host_phases.py --model gpt --modes plain,busy \
        --out "$W/busy_gpt.json"
      step breakdown 120 python3 validation/capture/forward_host.py --breakdown -o "$W/breakdown.json"
      pack busy.tgz busy_resnet50.json busy_gpt.json breakdown.json ;;
    caps5)
      cap gpt_sdpa_math 90 --model gpt --sdpa-backend math
      cap gpt_sdpa_efficient 90 --model gpt --sdpa-backend efficient
      cap mobilenet 90 --model mobilenet
      pack caps5.tgz gpt_sdpa_math gpt_sdpa_efficient mobilenet ;;
    grad)
      step grad_host 200 python3 validation/capture/grad_host.py -o "$W/grad_host.json"
      pack grad.tgz grad_host.json ;;
    align)
      step gemm_align 240 python3 validation/capture/gemm_align.py -o "$W/gemm_align.json"
      pack align.tgz gemm_align.json ;;
    compile)
      cap gpt_compile 200 --model gpt --layers 6 --compile
      pack compile.tgz gpt_compile ;;
    *) echo "unknown part $part" ;;
  esac
done
date -u
