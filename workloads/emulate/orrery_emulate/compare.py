"""Compares an emulated bundle with a real capture of the same step: the sequence of GPU-launching
aten ops (each op that launched a kernel, memcpy or memset, innermost, in issue order) with
their input shapes, modulo profiler-only ops; and the kernel families per op.

    python -m orrery_emulate.compare REAL_BUNDLE EMULATED_BUNDLE [--json out.json]

Prints the match (fraction of the real sequence reproduced in order, by longest common
subsequence of (op, shapes)), the first divergence, and counts per (op, kernel family)."""
import collections
import difflib
import gzip
import json
import sys

# The emulator records below autograd and composites: a cast is _to_copy where the profiler
# sees its inner copy_; an embedding lookup is the gather its CUDA kernel is.
CANON = {"aten::_to_copy": "aten::copy_", "aten::clone": "aten::copy_", "aten::embedding": "aten::gather",
         "aten::relu": "aten::clamp_min"}  # 2.x runs relu as clamp_min


def _load(path):
    op = gzip.open if path.endswith(".gz") else open
    with op(path, "rt") as f:
        return json.load(f)


def _find(d, stem):
    import os
    for ext in (".json.gz", ".json"):
        p = os.path.join(d, stem + ext)
        if os.path.exists(p):
            return p
    raise SystemExit("error: %s: no %s.json[.gz]" % (d, stem))


def family(name, cat):
    if cat != "kernel":
        return cat.replace("gpu_", "")
    for f in ("vectorized_elementwise", "unrolled_elementwise", "elementwise_kernel", "reduce_kernel", "multi_tensor",
              "nccl", "sdpa", "fmha", "cudnn", "gemm", "nvjet", "xmma", "cutlass", "gemv"):
        if f in name:
            return {"nvjet": "gemm", "xmma": "gemm", "cutlass": "gemm", "gemv": "gemm", "fmha": "cudnn", "sdpa": "cudnn"}.get(f, f)
    return "other"


def launching_ops(bundle, rank_suffix=""):
    et = _load(_find(bundle, "et" + rank_suffix))
    kt = _load(_find(bundle, "kineto" + rank_suffix))
    by_rf = {}
    for n in et["nodes"]:
        for a in n.get("attrs", []):
            if a["name"] == "rf_id":
                by_rf[a["value"]] = n
    step = [e for e in kt["traceEvents"] if e.get("cat") == "user_annotation" and e["name"].startswith("ProfilerStep")]
    t0, t1 = (step[0]["ts"], step[0]["ts"] + step[0]["dur"]) if step else (-1e30, 1e30)
    ext_rf = {e["args"].get("External id"): e["args"].get("Record function id")
              for e in kt["traceEvents"] if e.get("cat") == "cpu_op"}
    launch = {}
    for e in kt["traceEvents"]:
        if e.get("cat") in ("cuda_runtime", "cuda_driver") and t0 <= e["ts"] <= t1:
            launch[e["args"].get("correlation")] = (e["ts"], ext_rf.get(e["args"].get("External id")))
    seq, fams = [], collections.Counter()
    last_rf = None
    for e in sorted((e for e in kt["traceEvents"] if e.get("cat") in ("kernel", "gpu_memcpy", "gpu_memset")),
                    key=lambda e: launch.get(e["args"].get("correlation"), (1e30, None))[0]):
        c = e["args"].get("correlation")
        if c not in launch:
            continue
        rf = launch[c][1]
        n = by_rf.get(rf)
        if n is None:
            continue
        name = CANON.get(n["name"], n["name"])
        fams[(name, family(e["name"], e["cat"]))] += 1
        if rf != last_rf:
            shapes = [s for s, t in zip(n["inputs"]["shapes"], n["inputs"]["types"]) if t.startswith("Tensor")]
            if name == "aten::copy_":
                shapes = shapes[-1:] if n["name"] == "aten::copy_" else shapes[:1]  # the source
            seq.append((name, json.dumps(shapes)))
            last_rf = rf
    return seq, fams


def compare(real, emu):
    a, fa = launching_ops(real)
    b, fb = launching_ops(emu)
    sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
    matched = sum(blk.size for blk in sm.get_matching_blocks())
    first = None
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag != "equal":
            first = {"real": a[i1:i1 + 3], "emulated": b[j1:j1 + 3], "position": i1}
            break
    keys = sorted(set(fa) | set(fb))
    return {"real_ops": len(a), "emulated_ops": len(b), "matched": matched,
            "match_fraction": matched / max(1, len(a)), "first_divergence": first,
            "families": [{"op": k[0], "family": k[1], "real": fa.get(k, 0), "emulated": fb.get(k, 0)} for k in keys]}


_OPNAME = {"allreduce": "all_reduce", "all_reduce": "all_reduce", "broadcast": "broadcast", "send": "send",
           "recv": "recv", "_allgather_base": "all_gather", "all_gather": "all_gather",
           "_reduce_scatter_base": "reduce_scatter", "reduce_scatter": "reduce_scatter", "barrier": "barrier"}


def emulated_collectives(bundle, rank):
    """Rank's collectives in the bundle's step: (op, group ranks, elements, peer), in order. A
    rank without a trace of its own (ranks.json) issues its distinct rank's collectives on the
    groups of the same family that hold it, peers shifted by its offset."""
    import os
    if not os.path.exists(os.path.join(bundle, "et.json")) and not os.path.exists(os.path.join(bundle, "et.%d.json" % rank)) \
            and os.path.exists(os.path.join(bundle, "ranks.json")):
        from .__main__ import families
        with open(os.path.join(bundle, "ranks.json")) as f:
            info = json.load(f)
        m = info["rank_map"][str(rank)]
        fam = families(info["groups"])
        by_fam = {(fam[g["name"]], r): g for g in info["groups"] for r in g["ranks"]}
        out = []
        for e in _own_collectives(bundle, m["rank"]):
            e = dict(e)
            if e["peer"] is not None:
                e["peer"] += m["offset"]
                e["group"] = sorted((rank, e["peer"]))
            else:
                e["group"] = by_fam[(fam[e["pg"]], rank)]["ranks"]
            out.append(e)
        return [{k: v for k, v in e.items() if k != "pg"} for e in out]
    return [{k: v for k, v in e.items() if k != "pg"} for e in _own_collectives(bundle, rank)]


def _own_collectives(bundle, rank):
    import os
    sfx = "" if os.path.exists(os.path.join(bundle, "et.json")) else ".%d" % rank
    et = _load(_find(bundle, "et" + sfx))
    kt = _load(_find(bundle, "kineto" + sfx))
    pgs = {g["pg_name"]: g["ranks"] for g in kt.get("distributedInfo", {}).get("pg_config", [])}
    out = []
    for n in sorted(et["nodes"], key=lambda n: n["id"]):
        if n["name"] != "record_param_comms":
            continue
        at = {a["name"]: a["value"] for a in n["attrs"]}
        op = _OPNAME.get(at["collective_name"], at["collective_name"])
        vals = n["inputs"]["values"]
        peer = vals[3] if op in ("send", "recv") else None
        group = sorted((rank, peer)) if peer is not None else pgs.get(at["pg_name"], [])
        out.append({"op": op, "group": group, "nelems": at["in_msg_nelems"], "peer": peer, "pg": at["pg_name"]})
    return out


def compare_collectives(reference, bundle):
    """Per rank: does the emulated sequence equal the reference (op, group, elements, peer)?"""
    with open(reference) as f:
        ref = json.load(f)
    report = {"world_size": ref["world_size"], "ranks": {}}
    for r, want in ref["ranks"].items():
        want = [{"op": e["op"], "group": sorted(e["group"]) if e["peer"] is None else sorted((int(r), e["peer"])),
                 "nelems": e["nelems"], "peer": e["peer"]} for e in want]
        got = emulated_collectives(bundle, int(r))
        first = next((i for i, (a, b) in enumerate(zip(want, got)) if a != b), None)
        if first is None and len(want) != len(got):
            first = min(len(want), len(got))
        report["ranks"][r] = {"reference": len(want), "emulated": len(got), "equal": first is None,
                              "first_difference": None if first is None else {
                                  "index": first, "reference": want[first] if first < len(want) else None,
                                  "emulated": got[first] if first < len(got) else None}}
    report["all_equal"] = all(v["equal"] for v in report["ranks"].values())
    return report


def main():
    args = sys.argv[1:]
    if args and args[0] == "--collectives":
        rep = compare_collectives(args[1], args[2])
        for r, v in sorted(rep["ranks"].items(), key=lambda x: int(x[0])):
            print("rank %s: reference %d, emulated %d collectives: %s" % (
                r, v["reference"], v["emulated"], "equal" if v["equal"] else "differ at %s" % v["first_difference"]))
        print("all ranks equal" if rep["all_equal"] else "DIFFERENT")
        sys.exit(0 if rep["all_equal"] else 1)
    out = None
    if "--json" in args:
        i = args.index("--json")
        out = args[i + 1]
        args = args[:i] + args[i + 2:]
    r = compare(args[0], args[1])
    print("launching ops: real %d, emulated %d, matched in order %d (%.1f%% of real)" % (
        r["real_ops"], r["emulated_ops"], r["matched"], 100 * r["match_fraction"]))
    if r["first_divergence"]:
        print("first divergence at %d: real %s / emulated %s" % (
            r["first_divergence"]["position"], r["first_divergence"]["real"][:1], r["first_divergence"]["emulated"][:1]))
    for f in r["families"]:
        if f["real"] != f["emulated"]:
            print("  %-40s %-24s real %4d emulated %4d" % (f["op"], f["family"], f["real"], f["emulated"]))
    if out:
        with open(out, "w") as f:
            json.dump(r, f, indent=1)


if __name__ == "__main__":
    main()
