#!/usr/bin/env python3
"""Out-of-sample check of the first-principles hardware model (docs/codesign.md).

Predicts kernels and steps from the preset's "arch" description alone (`--hw-model
first-principles`: no measured efficiency enters) and compares with:
  1. device-side microbenchmarks (validation/data/<hw>/host_device_micro.json: GEMMs, copies,
     elementwise kernels timed by CUDA-graph replay), through `orrery kernel`;
  2. every kernel of the captured steps (`orrery replay --mode roofline --csv`), per class;
  3. the steps themselves, and the H100 -> H200 step ratio against `--mode transfer`;
  4. A100: the published Korthikanti rows (`orrery validate --published`).
Next to it: plain roofline (datasheet peak and HBM bandwidth, no efficiency) and, for reference,
today's calibrated roofline (in-sample on the H100: its curves were fitted to these microbenchmarks).
Error = (predicted - measured) / measured; the tables give the median and 90th percentile of |error|.

usage: validation/scripts/codesign_table.py [--binary build/orrery] [--h200-bundles ../shared/fixtures/h200]
                                          [--set KEY=VALUE]...   (first-principles runs only, e.g. l2_reuse=1)
"""
import argparse, csv, json, os, re, statistics, subprocess, sys, tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
UNITS = {"": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15}


def qty(s):
    if isinstance(s, (int, float)):
        return float(s)
    m = re.match(r"\s*([0-9.eE+-]+)\s*([kMGTP]?)", s)
    return float(m.group(1)) * UNITS[m.group(2)]


def preset(hw):
    return json.load(open(os.path.join(ROOT, "hw_models", "presets", hw + ".json")))["params"]


def run(binary, *args):
    return subprocess.run([binary, *args], check=True, capture_output=True, text=True).stdout


def kernel(binary, hw, model, *args):
    return json.loads(run(binary, "kernel", "--hw", hw, "--hw-model", model, "--json", "-", *args))["time_us"]


def graph_period(binary, hw, model, *args):
    """A kernel's period in a CUDA graph of back-to-back copies of it: its time plus the gap between
    graph nodes. The microbenchmarks time reps copies of a kernel captured in one graph and divide
    the replay by reps, so their per-kernel figure holds one node gap (graph_node_gap). (The
    calibrated column compares its kernel time alone: `orrery calibrate` fitted its curves to these
    per-kernel figures as they are, gap included.)"""
    j = json.loads(run(binary, "kernel", "--hw", hw, "--hw-model", model, "--json", "-", *args))
    return j["time_us"] + j["graph_node_gap_s"] * 1e6


def pct(xs, q):
    xs = sorted(abs(x) for x in xs)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return 100 * (xs[lo] + (xs[hi] - xs[lo]) * (k - lo))


def row(name, n, errs):
    cells = [f"{pct(e, 0.5):.1f}% / {pct(e, 0.9):.1f}%" if e else "-" for e in errs]
    return f"| {name} | {n} | " + " | ".join(cells) + " |"


def micro(binary, hw):
    p = preset(hw)
    d = json.load(open(os.path.join(ROOT, "validation", "data", hw, "host_device_micro.json")))["device_side"]
    peak = {"bf16": qty(p["peak_bf16"]), "fp32": qty(p["peak_fp32"])}
    bw, l2 = qty(p["hbm_bandwidth"]), qty(p["l2_size"]) * (1 if "B" in p["l2_size"] and "i" not in p["l2_size"] else 1)
    classes = {}
    # (plain roofline gets the same node gap: the measured figure holds one)
    gap = json.loads(run(binary, "kernel", "--hw", hw, "--json", "-", "memory", "1B"))["graph_node_gap_s"] * 1e6

    def add(cls, meas_us, fp_us, cal_us, roof_us):
        c = classes.setdefault(cls, ([], [], []))
        for lst, v in zip(c, (fp_us, roof_us, cal_us)):
            lst.append((v - meas_us) / meas_us)

    for g in d["gemm"]:
        shape = f"{g['m']}x{g['n']}x{g['k']}"
        meas = g["device_ms"] * 1e3
        f = 2 * g["m"] * g["n"] * g["k"]
        eb = 2 if g["dtype"] == "bf16" else 4
        by = eb * (g["m"] * g["k"] + g["k"] * g["n"] + g["m"] * g["n"])
        roof = max(f / peak[g["dtype"]], by / bw) * 1e6 + gap
        add("gemm " + g["dtype"], meas, graph_period(binary, hw, "first-principles", "gemm", shape, g["dtype"]),
            kernel(binary, hw, "calibrated", "gemm", shape, g["dtype"]), roof)
    for c in d["copy"]:
        moved = 2 * c["bytes"]
        warm = ["--warm-l2"] if moved <= l2 else []
        meas = c["device_ms"] * 1e3
        add("copy", meas, graph_period(binary, hw, "first-principles", "memory", f"{moved}B", *warm),
            kernel(binary, hw, "calibrated", "memory", f"{moved}B"), moved / bw * 1e6 + gap)
    for e in d["elementwise"]:
        moved = (3 if e["op"] == "add" else 2) * e["bytes_per_operand"]
        warm = ["--warm-l2"] if moved <= l2 else []
        meas = e["device_ms"] * 1e3
        add("elementwise", meas, graph_period(binary, hw, "first-principles", "memory", f"{moved}B", *warm),
            kernel(binary, hw, "calibrated", "memory", f"{moved}B"), moved / bw * 1e6 + gap)
    return classes


SETS = []  # --set for the first-principles runs


def replay(binary, bundle, hw, mode, model, tmp):
    base = os.path.join(tmp, f"{os.path.basename(bundle)}_{hw}_{mode}_{model}")
    args = ["replay", bundle, "--hw", hw, "--mode", mode, "--json", base + ".json", "--csv", base + ".csv", "--quiet"]
    if model:
        args += ["--hw-model", model]
    if model == "first-principles":
        for kv in SETS:
            args += ["--set", kv]
    if mode == "transfer":
        args += ["--source-hw", "h100"]
    run(binary, *args)
    res = json.load(open(base + ".json"))
    rows = list(csv.DictReader(open(base + ".csv")))
    return res, rows


def measured_ms(bundle):
    return json.load(open(os.path.join(bundle, "measured.json")))["step_cuda_events"]["median_ms"]


def step_ms(res):
    return res.get("step_time_ms", res.get("predicted_step_ms"))


def bundle_kernels(binary, bundles, hw, tmp):
    p = preset(hw)
    bw = qty(p["hbm_bandwidth"])
    classes, steps = {}, []
    for b in bundles:
        fp, rows = replay(binary, b, hw, "roofline", "first-principles", tmp)
        cal, crows = replay(binary, b, hw, "roofline", "", tmp)
        pk = qty(p["peak_fp32"]) if "fp32" in b else qty(p["peak_bf16"])
        for r, c in zip(rows, crows):
            meas = float(r["measured_us"])
            if meas <= 0 or r["bound"] == "unknown":
                continue
            cls = r["class"]
            f, by = float(r["flops"] or 0), float(r["bytes"] or 0)
            peak = pk if cls in ("gemm", "attention") else qty(p["peak_fp32"])
            roof = max(f / peak, by / bw) * 1e6
            lst = classes.setdefault(cls, ([], [], []))
            lst[0].append((float(r["simulated_us"]) - meas) / meas)
            lst[1].append((roof - meas) / meas if roof > 0 else -1.0)
            lst[2].append((float(c["simulated_us"]) - meas) / meas)
        steps.append((b, fp, cal))
    return classes, steps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "orrery"))
    ap.add_argument("--h200-bundles", default=os.path.join(ROOT, "..", "shared", "fixtures", "h200"))
    ap.add_argument("--set", action="append", default=[], help="KEY=VALUE for the first-principles replays")
    a = ap.parse_args()
    SETS.extend(a.set)
    tmp = tempfile.mkdtemp(prefix="codesign_")
    h100_bundles = [os.path.join(ROOT, "examples", "bundles", n) for n in ("mlp_fp32", "gpt_a_ddp", "gpt_b", "llama_s")]
    h200_bundles = [os.path.join(a.h200_bundles, n) for n in ("mlp_fp32", "gpt_a_ddp", "gpt_b", "llama_s")
                    if os.path.isdir(os.path.join(a.h200_bundles, n))]
    hdr = "| class | n | first-principles | plain roofline | calibrated (in-sample: its curves were fitted to these data) |\n|---|---|---|---|---|"
    for hw in ("h100", "h200"):
        print(f"\n### {hw.upper()} device-side microbenchmarks (median / p90 of |error|)\n\n{hdr}")
        for cls, e in sorted(micro(a.binary, hw).items()):
            print(row(cls, len(e[0]), e))
    for hw, bundles in (("h100", h100_bundles), ("h200", h200_bundles)):
        if not bundles:
            continue
        classes, steps = bundle_kernels(a.binary, bundles, hw, tmp)
        print(f"\n### {hw.upper()} captured kernels, all four bundles (median / p90 of |error|)\n\n{hdr}")
        allk = ([], [], [])
        for cls, e in sorted(classes.items()):
            print(row(cls, len(e[0]), e))
            for i in range(3):
                allk[i].extend(e[i])
        print(row("all kernels", len(allk[0]), allk))
        print(f"\n### {hw.upper()} steps\n\n| bundle | measured | first-principles | calibrated roofline |\n|---|---|---|---|")
        for b, fp, cal in steps:
            m, name = measured_ms(b), os.path.basename(b)
            print(f"| {name} | {m:.2f} ms | {fp['step_time_ms']:.2f} ms ({(fp['step_time_ms'] - m) / m * 100:+.1f}%) | "
                  f"{cal['step_time_ms']:.2f} ms ({(cal['step_time_ms'] - m) / m * 100:+.1f}%) |")
    if h200_bundles:
        print("\n### H100 -> H200 step ratio\n\n| bundle | measured | first-principles | transfer mode |\n|---|---|---|---|")
        for b100, b200 in zip(h100_bundles, h200_bundles):
            f100, _ = replay(a.binary, b100, "h100", "roofline", "first-principles", tmp)
            f200, _ = replay(a.binary, b100, "h200", "roofline", "first-principles", tmp)
            t200, _ = replay(a.binary, b100, "h200", "transfer", "", tmp)
            m200 = json.load(open(os.path.join(b200, "measured.json")))["step_cuda_events"]["median_ms"]
            m100 = measured_ms(b100)
            print(f"| {os.path.basename(b100)} | {m200 / m100:.3f} | {f200['step_time_ms'] / f100['step_time_ms']:.3f} | "
                  f"{t200['step_time_ms'] / m100:.3f} |")
    print("\n### A100: published training rows (orrery validate --published --hw-model first-principles)\n")
    out = subprocess.run([a.binary, "validate", "--published", os.path.join(ROOT, "validation", "data", "published_training.json"),
                          "--hw-model", "first-principles"], capture_output=True, text=True).stdout
    print("```\n" + out.strip() + "\n```")
    print("\n### H100, B200, GB200: published training throughput (Megatron-Bridge; --hw-model first-principles)\n")
    out = subprocess.run([a.binary, "validate", "--published",
                          os.path.join(ROOT, "validation", "data", "published_training_megatron_bridge.json"),
                          "--hw-model", "first-principles"], capture_output=True, text=True).stdout
    print("```\n" + out.strip() + "\n```")


if __name__ == "__main__":
    main()
