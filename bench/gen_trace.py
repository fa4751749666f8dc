#!/usr/bin/env python3
"""Synthetic capture bundles at real sizes, for the ingest benchmark (bench/bench_ingest.sh).

  gen_trace.py kineto N DIR [--gz]          Kineto-only bundle (kineto.json), N GPU kernels
  gen_trace.py et N DIR [--gz]              ET + Kineto bundle (et.json, kineto.json), N kernels
  gen_trace.py ranks R N DIR [--gz]         R-rank Kineto-only bundle (kineto.<r>.json), N kernels
                                            per rank, one NCCL all-reduce every 50 ops

Events look like torch.profiler's (record_shapes=True): every cpu_op carries External id,
Record function id, Ev Idx, Input Dims/type/Strides, Concrete Inputs; every kernel the args
Kineto writes (queued, device, context, stream, correlation, registers, grid, block, ...).
Written streaming, so a 1M-kernel trace needs little memory here."""
import gzip
import json
import os
import sys

KERNELS = [
    ("aten::add", "void at::native::vectorized_elementwise_kernel<4, at::native::CUDAFunctor_add<float>, "
     "at::detail::Array<char*, 3> >(int, at::native::CUDAFunctor_add<float>, at::detail::Array<char*, 3>)", 10.0),
    ("aten::mm", "sm90_xmma_gemm_f32f32_tf32f32_f32_tn_n_tilesize128x128x32_warpgroupsize1x1x1_execute_segment_k_off_"
     "kernel__5x_cublas", 40.0),
    ("aten::gelu", "void at::native::vectorized_elementwise_kernel<4, at::native::GeluCUDAKernelImpl(at::TensorIteratorBase&, "
     "at::native::GeluType)::{lambda()#2}::operator()() const::{lambda()#2}::operator()() const::{lambda(float)#1}, "
     "at::detail::Array<char*, 2> >", 12.0),
]


def opener(path, gz):
    return gzip.open(path + ".gz", "wt", compresslevel=1) if gz else open(path, "w")


def kineto(path, n, gz, rank=None, world=1, with_et=None):
    """Writes the Kineto trace; with_et: list to which (rf, name, shape) of each op is appended."""
    f = opener(path, gz)
    f.write('{"schemaVersion": 1, "deviceProperties": [{"id": 0, "name": "NVIDIA H100 80GB HBM3"}],\n')
    if rank is not None:
        f.write(' "distributedInfo": %s,\n' % json.dumps({
            "backend": "nccl", "rank": rank, "world_size": world,
            "pg_config": [{"pg_name": "0", "pg_desc": "default_pg", "pg_size": world, "ranks": list(range(world))}]}))
    f.write(' "traceEvents": [\n')
    t0 = 1000.0
    step_dur = 25.0 * n + 1000
    f.write(json.dumps({"ph": "X", "cat": "user_annotation", "name": "ProfilerStep#1", "pid": 1, "tid": 1, "ts": t0,
                        "dur": step_dur, "args": {"External id": 1, "Record function id": 1, "Ev Idx": 0}}))
    t, gpu_t, corr = t0 + 10, t0 + 20, 100
    for i in range(n):
        comm = rank is not None and i % 50 == 49
        ext, rf = 1000 + i, 10 + i
        if comm:
            name, kname, kdur = "record_param_comms", "ncclDevKernel_AllReduce_Sum_f32_RING_LL(ncclDevKernelArgsStorage<4096ul>)", 30.0
            args = {"External id": ext, "Record function id": rf, "Ev Idx": i, "Input Dims": [[[262144]]],
                    "Input type": ["TensorList"], "Input Strides": [[[1]]], "Concrete Inputs": [""],
                    "Collective name": "allreduce", "dtype": "Float", "In msg nelems": 262144,
                    "Out msg nelems": 262144, "Group size": world, "Process Group Name": "0"}
            shape = [262144]
        else:
            name, kname, kdur = KERNELS[i % len(KERNELS)]
            shape = [1024, 1024]
            args = {"External id": ext, "Record function id": rf, "Ev Idx": i, "Input Dims": [shape, shape],
                    "Input type": ["float", "float"], "Input Strides": [[1024, 1], [1024, 1]], "Concrete Inputs": ["", ""]}
        if with_et is not None:
            with_et.append((rf, name, shape))
        f.write(",\n" + json.dumps({"ph": "X", "cat": "cpu_op", "name": name, "pid": 1, "tid": 1, "ts": t, "dur": 15.0,
                                    "args": args}))
        corr += 1
        f.write(",\n" + json.dumps({"ph": "X", "cat": "cuda_runtime", "name": "cudaLaunchKernel", "pid": 1, "tid": 1,
                                    "ts": t + 3, "dur": 5.0, "args": {"External id": ext, "cbid": 211, "correlation": corr}}))
        gpu_t = max(gpu_t, t + 9)
        f.write(",\n" + json.dumps({"ph": "X", "cat": "kernel", "name": kname, "pid": 0, "tid": 7, "ts": gpu_t, "dur": kdur,
                                    "args": {"External id": ext, "queued": 0, "device": 0, "context": 1, "stream": 7,
                                             "correlation": corr, "registers per thread": 32, "shared memory": 0,
                                             "blocks per SM": 8.0, "warps per SM": 32.0, "grid": [2048, 1, 1],
                                             "block": [128, 1, 1], "est. achieved occupancy %": 100}}))
        gpu_t += kdur + 1
        t += 20
    f.write(',\n{"ph": "M", "name": "thread_name", "pid": 1, "tid": 1, "args": {"name": "python"}}')
    f.write('\n]}\n')
    f.close()


def et(path, ops, gz):
    f = opener(path, gz)
    f.write('{"schema": "1.1.1-chakra.0.0.4", "pid": 1, "nodes": [\n')
    empty = {"values": [], "shapes": [], "types": [], "strides": []}

    def attrs(rf):
        return [{"name": "rf_id", "type": "uint64", "value": rf}, {"name": "tid", "type": "uint64", "value": 1}]
    f.write(json.dumps({"id": 1, "name": "[pytorch|profiler|execution_trace|process]", "ctrl_deps": 1,
                        "inputs": empty, "outputs": empty, "attrs": attrs(0)}))
    f.write(",\n" + json.dumps({"id": 2, "name": "[pytorch|profiler|execution_trace|thread]", "ctrl_deps": 1,
                                "inputs": empty, "outputs": empty, "attrs": attrs(0)}))
    f.write(",\n" + json.dumps({"id": 3, "name": "ProfilerStep#1", "ctrl_deps": 2, "inputs": empty, "outputs": empty,
                                "attrs": attrs(1)}))
    for i, (rf, name, shape) in enumerate(ops):
        numel = 1
        for d in shape:
            numel *= d
        tensor = [500 + i, 500 + i, 0, numel, 4, "cuda:0"]
        io = {"values": [tensor, tensor], "shapes": [shape, shape], "types": ["Tensor(float)"] * 2,
              "strides": [[1024, 1], [1024, 1]]}
        out = {"values": [tensor], "shapes": [shape], "types": ["Tensor(float)"], "strides": [[1024, 1]]}
        f.write(",\n" + json.dumps({"id": 4 + i, "name": name, "ctrl_deps": 3, "inputs": io, "outputs": out,
                                    "attrs": attrs(rf)}))
    f.write('\n]}\n')
    f.close()


def main(argv):
    gz = "--gz" in argv
    argv = [a for a in argv if a != "--gz"]
    if len(argv) < 3:
        sys.exit(__doc__)
    kind = argv[0]
    if kind == "ranks":
        ranks, n, out = int(argv[1]), int(argv[2]), argv[3]
    else:
        n, out = int(argv[1]), argv[2]
    os.makedirs(out, exist_ok=True)
    if kind == "kineto":
        kineto(os.path.join(out, "kineto.json"), n, gz)
    elif kind == "et":
        ops = []
        kineto(os.path.join(out, "kineto.json"), n, gz, with_et=ops)
        et(os.path.join(out, "et.json"), ops, gz)
    elif kind == "ranks":
        for r in range(ranks):
            kineto(os.path.join(out, "kineto.%d.json" % r), n, gz, rank=r, world=ranks)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
