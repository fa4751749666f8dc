"""Writes one emulated rank's step as a capture bundle pair the replay front end reads
(workloads/pytorch_trace.cpp): et[.<rank>].json (PyTorch Execution Trace schema: nodes with
ctrl_deps parents, inputs/outputs values/shapes/types/strides, rf_id, comm attributes) and
kineto[.<rank>].json (a ProfilerStep window, one cpu_op per ET node, the runtime calls and one
GPU activity per kernel the op launches, linked by External id / correlation; durations are
placeholders: the replay costs kernels in roofline mode)."""
import json
import math

from . import kernels as K

OP_US, CALL_US = 10.0, 1.0       # synthetic host timeline (the replay does not use these times)
PROFILER_ONLY = ("prim::",)


def step_window(events):
    """Events of the last complete step: between the last two step marks (or from the start when
    the script completed one step)."""
    src = "profiler" if any(e["k"] == "step" and e.get("src") == "profiler" for e in events) else "optimizer"
    marks = [i for i, e in enumerate(events) if e["k"] == "step" and e.get("src", src) == src]
    if not marks:
        return None
    end = marks[-1]
    start = marks[-2] + 1 if len(marks) > 1 else 0
    return [e for e in events[start:end] if e["k"] != "step"]


def _tensor_value(t, rank):
    return [t["tid"], t["sid"], t["off"], t["numel"], t["esize"], "cuda:%d" % rank]


def _io(args, rank):
    vals, shapes, types, strides = [], [], [], []
    for a in args:
        if a.get("t"):
            vals.append(_tensor_value(a, rank))
            shapes.append(a["shape"])
            types.append("Tensor(%s)" % a["dtype"])
            strides.append(a["strides"])
        elif "list" in a:
            ts = [x for x in a["list"] if x.get("t")]
            vals.append([_tensor_value(x, rank) for x in ts])
            shapes.append([x["shape"] for x in ts])
            types.append("GenericList[%s]" % ",".join("Tensor(%s)" % x["dtype"] for x in ts))
            strides.append([x["strides"] for x in ts])
        else:
            v = a.get("v")
            vals.append("<None>" if v is None else v)
            shapes.append([])
            types.append(a.get("type", "None"))
            strides.append([])
    return {"values": vals, "shapes": shapes, "types": types, "strides": strides}


def _out_numel(ev):
    """Elements of the op's first output tensor (what an elementwise kernel's grid covers)."""
    for a in ev.get("outputs", []):
        if a.get("t"):
            n = 1
            for d in a["shape"]:
                n *= d
            return n
    return 0


def _gamma_beta_launch(ev):
    """Grid and block of layer norm backward's GammaBetaBackward kernel, as PyTorch's
    LaunchGammaBetaBackwardCUDAKernel (layer_norm_kernel.cu) picks them from dY's M x N: one block
    of 32 x block_dim_y threads per 32 columns, block_dim_y from M (1, 8, 16, 32); for M > 65536
    rows and fewer than 66 column blocks (half an H100's SMs) 32 x 1 threads and M / 32 row blocks
    in y, at most 32768 blocks. None when dY's shape is not in the op."""
    dy = next((a for a in ev.get("inputs", []) if a.get("t")), None)
    if not dy or not dy.get("shape"):
        return None
    n = dy["shape"][-1]
    m = 1
    for d in dy["shape"][:-1]:
        m *= d
    cols = max(1, -(-n // 32))
    if m > 64 * 1024 and cols < 66:
        return [cols, min(32768 // cols, -(-m // 32)), 1], [32, 1, 1]
    y = 1 if m < 64 else 8 if m < 128 else 16 if m < 256 else 32
    return [cols, 1, 1], [32, y, 1]


def _nll_loss_launch(ev):
    """Grid and block of the loss's reductions (LossNLL.cu nll_loss_{forward,backward}_reduce_cuda_kernel_2d):
    one block of nll_loss_threads(frames) = clamp(2^round(log2(frames / 16)), 32, 1024) threads, the
    frames being the log-probabilities' rows. None when the op has no 2-d input."""
    logp = next((a for a in ev.get("inputs", []) if a.get("t") and len(a.get("shape") or []) == 2), None)
    if not logp:
        return None
    frames = max(1, logp["shape"][0])
    threads = 1 << int(round(math.log2(max(frames // 16, 1))))
    return [1, 1, 1], [min(1024, max(32, threads)), 1, 1]


def _max_pool_launch(ev, kname):
    """Grid and block of DilatedMaxPool2d.cu's launches (CUDA limits: 1024 threads per block, block
    z at most 64, grid y and z at most 65535): NCHW 256 threads, one per output (forward) or one
    per input position in x with batch in y and channels in z (backward); NHWC channels in x (at
    most 32), width in y, height in z, each thread BLOCK_STRIDE 2 positions of its y and z."""
    ins = [a for a in ev.get("inputs", []) if a.get("t")]
    outs = [a for a in ev.get("outputs", []) if a.get("t")]
    backward = "backward" in kname
    x, y = (ins[1], ins[0]) if backward and len(ins) > 1 else (ins[0] if ins else None, outs[0] if outs else None)
    if not x or not y or len(x["shape"]) != 4 or len(y["shape"]) != 4:
        return None
    n, c, ih, iw = x["shape"]
    oh, ow = y["shape"][2], y["shape"][3]
    if "nchw" in kname:
        if backward:
            return [-(-(ih * iw) // 256), min(n, 65535), min(c, 65535)], [256, 1, 1]
        return [-(-(n * c * oh * ow) // 256), 1, 1], [256, 1, 1]

    def last_pow2(v):
        return 1 << (max(1, int(v)).bit_length() - 1)
    h, w = (ih, iw) if backward else (oh, ow)
    bx = min(last_pow2(c), 32)
    by = min(last_pow2(w), 1024 // bx)
    bz = max(1, min(64, last_pow2(h), 1024 // bx // by))
    bx = min(last_pow2(c), 1024 // by // bz)
    stride_c = -(-c // (bx * 4))
    return [n * stride_c, min(65535, -(-w // (by * 2))), min(65535, -(-h // (bz * 2)))], [bx, by, bz]


def _embedding_backward_launch(ev, kname):
    """Grid and block of embedding backward's kernels: Embedding.cu's feature kernel (few indices),
    one 32 x 32 block per 32 columns; EmbeddingBackwardKernel.cu's two summing kernels, a thread per
    feature (the row width rounded up to a warp, blocks of at most 1024) for every possible partial
    segment (compute_grad_weight: numel / NROWS_PER_THREAD (10) + max_segments) or segment
    (sum_and_scatter: max_segments = min(numel, num_weights))."""
    ins = ev.get("inputs", [])
    tensors = [a for a in ins if a.get("t")]
    weights = next((a.get("v") for a in ins if not a.get("t") and isinstance(a.get("v"), int)), None)
    if len(tensors) < 2 or not tensors[0].get("shape") or weights is None:
        return None
    if "embedding_backward_feature_kernel" in kname:
        return [-(-tensors[0]["shape"][-1] // 32), 1, 1], [32, 32, 1]
    numel = 1
    for s in tensors[1]["shape"]:
        numel *= s
    stride_warped = -(-tensors[0]["shape"][-1] // 32) * 32
    block = min(stride_warped, 1024)
    max_segments = min(numel, weights)
    segments = numel // 10 + max_segments if "compute_grad_weight" in kname else max_segments
    return [-(-(segments * stride_warped) // block), 1, 1], [block, 1, 1]


class Writer:
    def __init__(self, rank, world, groups, device_name):
        self.rank, self.world, self.groups = rank, world, groups
        self.device_name = device_name
        self.nodes, self.trace = [], []
        self.next_id, self.rf, self.ext, self.corr = 1, 1, 1, 1
        self.t = 1000.0          # host clock, us
        self.event_corr = {}     # emulated event id -> correlation of its cudaEventRecord
        self.pid, self.tid = 1, 1
        self.colls = []          # (ET node, Kineto cpu_op) of each collective, in order

    def node(self, name, parent, inputs=None, outputs=None, attrs=None):
        nid = self.next_id
        self.next_id += 1
        n = {"id": nid, "name": name, "ctrl_deps": parent,
             "inputs": inputs or {"values": [], "shapes": [], "types": [], "strides": []},
             "outputs": outputs or {"values": [], "shapes": [], "types": [], "strides": []},
             "attrs": [{"name": "rf_id", "type": "uint64", "value": self.rf}, {"name": "tid", "type": "uint64", "value": 1}]
             + (attrs or [])}
        self.nodes.append(n)
        rf = self.rf
        self.rf += 1
        return n, rf

    def cpu_op(self, name, rf, ts, dur, cat="cpu_op", extra=None):
        ext = self.ext
        self.ext += 1
        args = {"External id": ext, "Record function id": rf}
        args.update(extra or {})
        self.trace.append({"ph": "X", "cat": cat, "name": name, "pid": self.pid, "tid": self.tid, "ts": ts, "dur": dur,
                           "args": args})
        return ext

    def runtime(self, name, ext, extra=None):
        c = self.corr
        self.corr += 1
        args = {"External id": ext, "correlation": c}
        args.update(extra or {})
        self.trace.append({"ph": "X", "cat": "cuda_runtime", "name": name, "pid": self.pid, "tid": self.tid,
                           "ts": self.t, "dur": CALL_US * 0.5, "args": args})
        self.t += CALL_US
        return c

    def launch(self, kind, kname, nbytes, stream, ext, numel=0, ev=None):
        rt = {"kernel": "cudaLaunchKernel", "memset": "cudaMemsetAsync", "memcpy": "cudaMemcpyAsync"}[kind]
        c = self.runtime(rt, ext)
        cat = {"kernel": "kernel", "memset": "gpu_memset", "memcpy": "gpu_memcpy"}[kind]
        args = {"stream": stream, "correlation": c, "device": self.rank % 8}
        dims = _gamma_beta_launch(ev) if ev is not None and "GammaBetaBackward" in kname else None
        if ev is not None and "nll_loss_" in kname and "_reduce_cuda_kernel_2d" in kname:
            dims = _nll_loss_launch(ev)
        if ev is not None and "max_pool_" in kname:
            dims = _max_pool_launch(ev, kname)
        if ev is not None and any(k in kname for k in ("compute_grad_weight", "sum_and_scatter",
                                                        "embedding_backward_feature_kernel")):
            dims = _embedding_backward_launch(ev, kname)
        if dims:
            args.update({"grid": dims[0], "block": dims[1]})
        elif kind == "kernel" and "elementwise_kernel" in kname and numel > 0:
            # PyTorch's elementwise launches (CUDALoops.cuh, Loops.cuh): 128 threads, 4 elements each
            args.update({"grid": [max(1, -(-int(numel) // 512)), 1, 1], "block": [128, 1, 1]})
        elif kind == "kernel":
            args.update({"grid": [1024, 1, 1], "block": [256, 1, 1]})
        else:
            args["bytes"] = int(nbytes)
        self.trace.append({"ph": "X", "cat": cat, "name": kname, "pid": 0, "tid": stream, "ts": self.t + 5.0,
                           "dur": 1.0, "args": args})

    # ---- events of the recording ----
    def write(self, events):
        proc, _ = self.node("[pytorch|profiler|execution_trace|process]", 1)
        proc["ctrl_deps"] = proc["id"]
        thread, _ = self.node("[pytorch|profiler|execution_trace|thread]", proc["id"])
        step, step_rf = self.node("ProfilerStep#2", thread["id"])
        t0 = self.t
        open_scopes = []  # [(name, node, rf, ts)]
        for ev in events:
            scope = ev.get("scope", [])
            while open_scopes and (len(open_scopes) > len(scope) or
                                   [s[0] for s in open_scopes] != scope[:len(open_scopes)]):
                self._close(open_scopes.pop())
            while len(open_scopes) < len(scope):
                name = scope[len(open_scopes)]
                parent = open_scopes[-1][1]["id"] if open_scopes else step["id"]
                n, rf = self.node(name, parent)
                open_scopes.append((name, n, rf, self.t))
                self.t += CALL_US
            parent = open_scopes[-1][1]["id"] if open_scopes else step["id"]
            self._event(ev, parent)
        while open_scopes:
            self._close(open_scopes.pop())
        self.t += OP_US
        self.cpu_op("ProfilerStep#2", step_rf, t0 - 1.0, self.t - t0 + 2.0, cat="user_annotation")

    def _close(self, s):
        name, n, rf, ts = s
        self.cpu_op(name, rf, ts, self.t - ts + 0.5, cat="user_annotation" if "#" in name or "." in name else "cpu_op")
        self.t += 1.0

    def _event(self, ev, parent):
        k = ev["k"]
        if k == "op":
            if ev["name"].startswith(PROFILER_ONLY):
                return
            subs = K.expand(ev)
            if len(subs) > 1:
                for sub in subs:
                    self._event(dict(sub, k="op_leaf"), parent)
                return
        if k in ("op", "op_leaf"):
            n, rf = self.node(ev["name"], parent, _io(ev["inputs"], self.rank), _io(ev["outputs"], self.rank),
                              [{"name": "op_schema", "type": "string", "value": ""}])
            ts = self.t
            self.t += CALL_US
            ext = self.cpu_op(ev["name"], rf, ts, 0)  # duration patched below
            for kind, kname, nbytes in K.kernels(ev):
                self.launch(kind, kname, nbytes, ev["stream"], ext, _out_numel(ev), ev)
            self.t += OP_US
            self._patch_dur(ext, ts)
        if k == "coll":
            self._collective(ev, parent)
        elif k == "record":
            n, rf = self.node("orrery::record_event", parent)
            ext = self.cpu_op(n["name"], rf, self.t, CALL_US)
            self.event_corr[ev["event"]] = self.runtime("cudaEventRecord", ext, {"stream": ev["stream"]})
        elif k == "wait":
            corr = self.event_corr.get(ev["event"])
            if corr is None:
                return
            n, rf = self.node("orrery::wait_event", parent)
            ext = self.cpu_op(n["name"], rf, self.t, CALL_US)
            self.runtime("cudaStreamWaitEvent", ext, {"stream": ev["stream"], "wait_on_cuda_event_record_corr_id": corr})
        elif k == "sync":
            n, rf = self.node("orrery::synchronize", parent)
            ext = self.cpu_op(n["name"], rf, self.t, CALL_US)
            if ev["what"] == "device":
                self.runtime("cudaDeviceSynchronize", ext)
            elif ev["what"] == "stream":
                self.runtime("cudaStreamSynchronize", ext, {"stream": ev["stream"]})
            else:
                self.runtime("cudaEventSynchronize", ext,
                             {"wait_on_cuda_event_record_corr_id": self.event_corr.get(ev["event"], -1)})

    def _patch_dur(self, ext, ts):
        for e in reversed(self.trace):
            if e["cat"] == "cpu_op" and e["args"].get("External id") == ext:
                e["dur"] = self.t - ts - 0.5
                return

    def _collective(self, ev, parent):
        inputs, attrs = coll_fields(ev, self.rank)
        n, rf = self.node("record_param_comms", parent, inputs, {"values": [], "shapes": [], "types": [], "strides": []},
                          attrs)
        ts = self.t
        ext = self.cpu_op("record_param_comms", rf, ts, 0, extra=coll_kineto_args(ev))
        self.colls.append((n, self.trace[-1]))
        self.t += CALL_US
        if ev["pg_size"] > 1:
            op = {"allreduce": "AllReduce_Sum", "_allgather_base": "AllGather", "all_gather": "AllGather",
                  "reduce_scatter": "ReduceScatter_Sum", "_reduce_scatter_base": "ReduceScatter_Sum",
                  "broadcast": "Broadcast", "reduce": "Reduce_Sum", "all_to_all": "SendRecv",
                  "send": "SendRecv", "recv": "SendRecv", "barrier": "AllReduce_Sum"}.get(ev["name"], "AllReduce_Sum")
            self.launch("kernel", "ncclDevKernel_%s_%s(ncclDevKernelArgsStorage<4096ul>) (emulated)" % (op, ev["dtype"]),
                        0, ev["stream"], ext)
        self.t += OP_US
        self._patch_dur(ext, ts)

    def documents(self, step_source):
        et = {"schema": "1.1.1-chakra.0.0.4", "pid": 1, "time": "emulated", "start_ts": 0, "finish_ts": 0,
              "nodes": self.nodes}
        kt = {"schemaVersion": 1, "deviceProperties": [{"id": 0, "name": self.device_name}],
              "distributedInfo": {"backend": "nccl", "rank": self.rank, "world_size": self.world,
                                  "pg_count": len(self.groups),
                                  "pg_config": [{"pg_name": g["name"], "pg_desc": g["desc"], "backend_config": "cuda:nccl",
                                                 "pg_size": len(g["ranks"]), "ranks": g["ranks"]} for g in self.groups]},
              "traceEvents": self.trace, "traceName": "orrery emulate (%s steps)" % step_source,
              "displayTimeUnit": "ms"}
        return et, kt


def coll_fields(ev, rank):
    """ET inputs and attrs of a record_param_comms node (PyTorch's positional layout: tensors,
    (seq, is_p2p), (pg name, pg desc), root or peer rank, name, splits, rank start, stride, size)."""
    peer = ev["peer"] if ev["peer"] is not None else 0
    t = ev["tensors"][0] if ev["tensors"] else None
    vals = [[_tensor_value(t, rank)] if t else [], [ev["seq"], ev["name"] in ("send", "recv")],
            [ev["pg"], ev["pg_desc"]], peer, ev["name"], [], [], ev["pg_ranks"][0],
            ev["pg_ranks"][1] - ev["pg_ranks"][0] if len(ev["pg_ranks"]) > 1 else 1, ev["pg_size"]]
    types = ["GenericList[Tensor(%s)]" % t["dtype"] if t else "GenericList[]", "Tuple[Int,Bool]",
             "Tuple[String,String]", "Int", "String", "GenericList[]", "GenericList[]", "Int", "Int", "Int"]
    inputs = {"values": vals, "shapes": [[t["shape"]] if t else [], [[], []], [[], []], [], [], [], [], [], [], []],
              "types": types, "strides": [[]] * 10}
    attrs = [{"name": "collective_name", "type": "string", "value": ev["name"]},
             {"name": "dtype", "type": "string", "value": ev["dtype"]},
             {"name": "in_msg_nelems", "type": "uint64", "value": ev["in_nelems"]},
             {"name": "out_msg_nelems", "type": "uint64", "value": ev["out_nelems"]},
             {"name": "pg_name", "type": "string", "value": ev["pg"]},
             {"name": "pg_desc", "type": "string", "value": ev["pg_desc"]},
             {"name": "pg_size", "type": "uint64", "value": ev["pg_size"]}]
    return inputs, attrs


def coll_kineto_args(ev):
    return {"Collective name": ev["name"], "Process Group Name": ev["pg"], "dtype": ev["dtype"],
            "In msg nelems": ev["in_nelems"], "Out msg nelems": ev["out_nelems"], "Group size": ev["pg_size"]}


class RankTemplate:
    """A representative rank's documents, re-targeted to another rank of the same role: only
    the collectives (groups, peers) and the rank number change."""

    def __init__(self, rank, world, groups, events, device_name, step_source):
        w = Writer(rank, world, groups or [{"name": "0", "ranks": list(range(world)), "desc": "default_pg"}],
                   device_name)
        w.write(events)
        self.writer = w
        self.et, self.kt = w.documents(step_source)

    def dump(self, directory, rank, events, suffix):
        colls = [e for e in events if e["k"] == "coll"]
        saved = []
        for (node, cpu), ev in zip(self.writer.colls, colls):
            saved.append((node["inputs"], node["attrs"], cpu["args"]))
            inputs, attrs = coll_fields(ev, rank)
            node["inputs"] = inputs
            node["attrs"] = node["attrs"][:2] + attrs
            cpu["args"] = dict(cpu["args"], **coll_kineto_args(ev))
        self.kt["distributedInfo"]["rank"] = rank
        with open("%s/et%s.json" % (directory, suffix), "w") as f:
            f.write(json.dumps(self.et, separators=(",", ":")))
        with open("%s/kineto%s.json" % (directory, suffix), "w") as f:
            f.write(json.dumps(self.kt, separators=(",", ":")))
        for (node, cpu), (i, a, k) in zip(self.writer.colls, saved):
            node["inputs"], node["attrs"], cpu["args"] = i, a, k
        return len(self.et["nodes"])


def write_rank(directory, rank, world, groups, events, device_name, step_source, suffix):
    w = Writer(rank, world, groups or [{"name": "0", "ranks": list(range(world)), "desc": "default_pg"}], device_name)
    w.write(events)
    et, kt = w.documents(step_source)
    with open("%s/et%s.json" % (directory, suffix), "w") as f:
        f.write(json.dumps(et, separators=(",", ":")))  # dumps uses the C encoder
    with open("%s/kineto%s.json" % (directory, suffix), "w") as f:
        f.write(json.dumps(kt, separators=(",", ":")))
    return len(w.nodes)
