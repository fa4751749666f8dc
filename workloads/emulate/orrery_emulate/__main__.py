"""Driver of `orrery emulate`: picks the ranks that differ, runs each as a worker process, maps
every other rank onto one of them, and writes the capture bundle.

    python -m orrery_emulate SCRIPT --world-size N --out DIR [--ranks 0,4] [--steps 2]
           [--devices-per-node 8] [--strict-data] [--jobs J] [-- script args]

Prints one JSON object on stdout (ranks emulated, rank map, timings, notes); errors are one line
on stderr (`error: ...`) and exit status 2."""
import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from . import bundle


def fail(msg):
    sys.stderr.write("error: %s\n" % msg)
    sys.exit(2)


def run_workers(ranks, a, script_args, tmp):
    def one(r):
        out = os.path.join(tmp, "rank%d.json" % r)
        if a.reuse and os.path.exists(out):  # --raw DIR --reuse: recordings of an earlier run
            with open(out) as f:
                return r, json.load(f)
        cmd = [sys.executable, "-m", "orrery_emulate.worker", out, str(r), str(a.world_size),
               str(a.devices_per_node), str(a.steps), "1" if a.strict_data else "0", a.script] + script_args
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if not os.path.exists(out):
            tail = [ln for ln in p.stderr.strip().splitlines() if ln.strip()]
            return r, {"ok": False, "error": "rank %d: the emulator died (%s)" % (r, tail[-1] if tail else "status %d" % p.returncode)}
        with open(out) as f:
            res = json.load(f)
        res["stdout"] = p.stdout[-2000:]
        return r, res
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, a.jobs)) as ex:
        return dict(ex.map(one, ranks))


def peers(res):
    return sorted({e["peer"] for e in res["events"] if e["k"] == "coll" and e.get("peer") is not None})


def families(groups):
    """Group name -> family id: consecutive groups (creation order) of one size, pairwise disjoint."""
    fam, cur, seen, fid = {}, None, set(), 0
    for g in groups:
        rs = set(g["ranks"])
        if cur is None or len(g["ranks"]) != cur or rs & seen:
            fid += 1
            cur, seen = len(g["ranks"]), set()
        seen |= rs
        fam[g["name"]] = fid
    return fam


def translate(res, rank, offset, groups):
    """The representative's events as rank `rank` issues them: groups of the same family, peers
    shifted by the same offset.  None when the layout does not map."""
    fam = families(groups)
    by_fam = {}
    for g in groups:
        for r in g["ranks"]:
            by_fam[(fam[g["name"]], r)] = g
    out = []
    for e in res["events"]:
        if e["k"] != "coll":
            out.append(e)
            continue
        e = dict(e)
        if e.get("peer") is not None:
            p = e["peer"] + offset
            if p < 0 or p >= res["world_size"]:
                return None
            e["peer"] = p
            lo, hi = sorted((rank, p))
            e["pg"], e["pg_ranks"] = "p2p:%d-%d" % (lo, hi), [lo, hi]
        elif e["pg"] in fam:
            g = by_fam.get((fam[e["pg"]], rank))
            if g is None:
                return None
            e["pg"], e["pg_ranks"], e["pg_desc"] = g["name"], g["ranks"], g["desc"]
        out.append(e)
    return out


def main():
    argv = sys.argv[1:]
    script_args = []
    if "--" in argv:
        i = argv.index("--")
        argv, script_args = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser(prog="orrery emulate")
    ap.add_argument("script")
    ap.add_argument("--world-size", type=int, default=1)
    ap.add_argument("--ranks", default="")
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--devices-per-node", type=int, default=8)
    ap.add_argument("--strict-data", action="store_true")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--out", required=True)
    ap.add_argument("--device-name", default="emulated GPU")
    ap.add_argument("--write-ranks", choices=("all", "emulated"), default="all",
                    help="emulated: write only the emulated ranks' traces (+ ranks.json, which replay shares among the ranks)")
    ap.add_argument("--raw", default="", help="keep the per-rank recordings in this directory")
    ap.add_argument("--reuse", action="store_true", help="with --raw: reuse recordings found there")
    a = ap.parse_args(argv)
    if not os.path.isfile(a.script):
        fail("%s: no such script" % a.script)
    if a.world_size < 1:
        fail("--world-size: %d: must be >= 1" % a.world_size)
    t0 = time.time()
    tmp = a.raw or tempfile.mkdtemp(prefix="orrery-emulate-")
    if a.raw:
        os.makedirs(a.raw, exist_ok=True)
    else:
        import atexit
        atexit.register(shutil.rmtree, tmp, True)  # also when fail() exits
    results = {}

    def emulate(ranks):
        todo = [r for r in ranks if r not in results]
        results.update(run_workers(todo, a, script_args, tmp))
        for r in todo:
            if not results[r].get("ok"):
                fail(results[r].get("error", "rank %d failed" % r))

    # ---- which ranks differ ----
    if a.ranks:
        try:
            reps = sorted({int(x) for x in a.ranks.split(",")})
        except ValueError:
            fail("--ranks: %s: expected a comma-separated list of ranks" % a.ranks)
        if reps[0] < 0 or reps[-1] >= a.world_size:
            fail("--ranks: %s: ranks must lie in 0..%d" % (a.ranks, a.world_size - 1))
        emulate(reps)
    else:
        emulate([0])
        reps, frontier = [0], [0]
        first = peers(results[0])
        if len(first) == 1 and first[0] > 0 and a.world_size % first[0] == 0:
            # Pipeline stages at a constant stride s: emulate every stage rank k*s at once (in
            # parallel); the peer check below still follows any peer they did not predict.
            stride0 = first[0]
            guess = list(range(stride0, a.world_size, stride0))
            if len(guess) <= 64:
                emulate(guess)
                reps += guess
                frontier = guess
        while frontier:  # pipeline stages: follow point-to-point peers from rank 0
            new = sorted({p for r in frontier for p in peers(results[r]) if p not in results})
            if len(reps) + len(new) > 64:
                fail("more than 64 distinct pipeline ranks; name the ranks to emulate with --ranks")
            emulate(new)
            reps += new
            frontier = new
        reps.sort()
    base = results[reps[0]]
    groups = base["groups"]
    for r in reps:
        if results[r]["steps"] == 0:
            fail("%s: the script completed no training step at rank %d (a step ends at optimizer.step() or "
                 "torch.profiler's step())" % (os.path.basename(a.script), r))
        win = bundle.step_window(results[r]["events"])
        if not any(e["k"] in ("op", "coll") for e in win):
            fail("%s: the script never calls a tensor op in its training step (rank %d)" % (
                os.path.basename(a.script), r))
    # ---- every rank -> a representative and an offset ----
    stride = reps[1] - reps[0] if len(reps) > 1 else a.world_size
    rank_map = {}
    for r in range(a.world_size):
        if r in results:
            rank_map[r] = (r, 0)
            continue
        c = max([x for x in reps if x <= r] or [reps[0]])
        if len(reps) > 1 and all(reps[k] == k * stride for k in range(len(reps))) and stride * len(reps) == a.world_size:
            c = reps[r // stride]
        rank_map[r] = (c, r - c)
    emul_s = time.time() - t0
    # ---- write ----
    os.makedirs(a.out, exist_ok=True)
    for f in os.listdir(a.out):
        if f.startswith(("et.", "kineto.")) and f.endswith((".json", ".json.gz")):
            os.remove(os.path.join(a.out, f))
    nodes, templates = 0, {}
    for r in range(a.world_size):  # every rank's mapping is checked; "emulated": written for the distinct ones
        c, off = rank_map[r]
        res = results[c]
        events = res["events"] if off == 0 else translate(res, r, off, groups)
        if events is None:
            emulate([r])
            events, c, off = results[r]["events"], r, 0
            rank_map[r] = (r, 0)
            res = results[r]
        if a.write_ranks == "emulated" and r not in results:
            continue
        win = bundle.step_window(events)
        suffix = "" if a.world_size == 1 else ".%d" % r
        if c not in templates:  # the representative's documents, built once
            templates[c] = bundle.RankTemplate(c, a.world_size, groups, bundle.step_window(res["events"]),
                                               a.device_name, res["step_source"])
        nodes += templates[c].dump(a.out, r, win, suffix)
    with open(os.path.join(a.out, "ranks.json"), "w") as f:
        json.dump({"world_size": a.world_size, "emulated": sorted(results),
                   "rank_map": {str(r): {"rank": rank_map[r][0], "offset": rank_map[r][1]} for r in range(a.world_size)},
                   "groups": groups}, f)
    notes = []
    for r in sorted(results):
        for n in results[r]["notes"]:
            if n not in notes:
                notes.append(n)
    summary = {"bundle": a.out, "world_size": a.world_size, "ranks_emulated": sorted(results),
               "rank_map": {str(r): rank_map[r][0] for r in range(a.world_size)},
               "steps_run": base["steps"], "step_source": base["step_source"],
               "emulation_s": emul_s, "write_s": time.time() - t0 - emul_s, "et_nodes": nodes,
               "groups": len(groups), "notes": notes,
               "ops_in_step": {str(r): sum(1 for e in bundle.step_window(results[r]["events"]) if e["k"] == "op")
                               for r in sorted(results)},
               "collectives_in_step": {str(r): sum(1 for e in bundle.step_window(results[r]["events"]) if e["k"] == "coll")
                                       for r in sorted(results)}}
    json.dump(summary, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
