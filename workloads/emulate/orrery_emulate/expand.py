"""Expands a bundle written with --write-ranks emulated (only the emulated ranks' traces and
ranks.json, the rank map) into every rank's et.<r>.json + kineto.<r>.json, for the multi-rank
replay: each rank is its representative's trace with the collectives re-targeted (groups of the
same family, peers shifted by the rank offset).

    python -m orrery_emulate.expand BUNDLE"""
import gzip
import json
import os
import sys

from .__main__ import families


def _read(d, stem):
    """stem.json or stem.json.gz of the bundle."""
    p = os.path.join(d, stem + ".json")
    if os.path.exists(p):
        with open(p) as f:
            return json.load(f)
    with gzip.open(p + ".gz", "rt") as f:
        return json.load(f)


def main():
    d = sys.argv[1]
    with open(os.path.join(d, "ranks.json")) as f:
        info = json.load(f)
    groups = info["groups"]
    fam = families(groups)
    by_fam = {(fam[g["name"]], r): g for g in groups for r in g["ranks"]}
    docs = {}
    for r in range(info["world_size"]):
        m = info["rank_map"][str(r)]
        rep, off = m["rank"], m["offset"]
        if off == 0 and any(os.path.exists(os.path.join(d, "et.%d.json%s" % (r, z))) for z in ("", ".gz")):
            continue
        if rep not in docs:
            docs[rep] = (_read(d, "et.%d" % rep), _read(d, "kineto.%d" % rep))
        et, kt = docs[rep]
        cpu = {e["args"]["Record function id"]: e for e in kt["traceEvents"]
               if e.get("cat") == "cpu_op" and e["name"] == "record_param_comms"}
        saved = []
        for n in et["nodes"]:
            if n["name"] != "record_param_comms":
                continue
            vals, attrs = n["inputs"]["values"], {a["name"]: a for a in n["attrs"]}
            rf = attrs["rf_id"]["value"]
            saved.append((n, json.dumps(n["inputs"]), json.dumps(n["attrs"]), rf, json.dumps(cpu[rf]["args"])))
            if vals[1][1]:  # point to point: peer shifted by the offset
                peer = vals[3] + off
                lo, hi = sorted((r, peer))
                name, ranks = "p2p:%d-%d" % (lo, hi), [lo, hi]
                vals[3] = peer
            else:
                g = by_fam[(fam[attrs["pg_name"]["value"]], r)]
                name, ranks = g["name"], g["ranks"]
            vals[2][0] = name
            vals[7] = ranks[0]
            attrs["pg_name"]["value"] = name
            cpu[rf]["args"]["Process Group Name"] = name
        kt["distributedInfo"]["rank"] = r
        with open(os.path.join(d, "et.%d.json" % r), "w") as f:
            f.write(json.dumps(et, separators=(",", ":")))
        with open(os.path.join(d, "kineto.%d.json" % r), "w") as f:
            f.write(json.dumps(kt, separators=(",", ":")))
        for n, i, a, rf, c in saved:  # back to the representative's own values
            n["inputs"], n["attrs"], cpu[rf]["args"] = json.loads(i), json.loads(a), json.loads(c)


if __name__ == "__main__":
    main()
