#!/usr/bin/env python3
"""Counts the SASS instructions one warp executes along one path through a kernel.

    walk.py FILE.sass KERNEL [--set REG=VALUE]... [--byte OFFSET=VALUE]... [--loop N]

FILE.sass is nvdisasm's output (`nvdisasm -c`). The walk starts at KERNEL's first instruction and
follows its control flow. Predicates come from ISETP comparisons of a register with an immediate
or RZ; a register's value is known when it was loaded from the kernel parameters (LDC / LDC.U8 of
c[0x0][OFFSET], given with --byte) or set with --set, and is carried through PRMT sign/zero
extension and MOV. A comparison involving an unknown value is taken as false, which for the
guards PyTorch's kernels use (idx >= N, thread_idx >= remaining, value out of the fast range of a
reciprocal) is the in-range, fast-path outcome. A backward branch is taken --loop times per
visit (default 0). The walk stops at EXIT (or after 100000 steps) and prints the executed count,
the count by opcode, and the number of global loads and stores.
"""
import argparse
import collections
import re
import sys

INS = re.compile(r"\s+/\*([0-9a-f]{4,})\*/\s+(.*?)\s*;")
LABEL = re.compile(r"^(\.L_x_\d+):")
FUNC = re.compile(r"^\.text\.(\S+):")


def parse(path, kernel):
    """The kernel's instructions [(addr, text)] and its labels {name: index}."""
    ins, labels, on = [], {}, False
    for line in open(path):
        m = FUNC.match(line.strip())
        if m:
            on = m.group(1) == kernel or kernel in m.group(1)
            continue
        if not on:
            continue
        m = LABEL.match(line.strip())
        if m:
            labels[m.group(1)] = len(ins)
            continue
        m = INS.match(line)
        if m:
            ins.append((int(m.group(1), 16), m.group(2)))
    if not ins:
        sys.exit("walk.py: error: %s: KERNEL: no kernel named %s" % (path, kernel))
    return ins, labels


def value(tok, regs):
    tok = tok.strip()
    if tok in ("RZ", "URZ"):
        return 0
    if re.fullmatch(r"-?0x[0-9a-f]+|-?\d+", tok):
        return int(tok, 0)
    return regs.get(tok)


def compare(op, a, b):
    return {"GT": a > b, "GE": a >= b, "LT": a < b, "LE": a <= b, "EQ": a == b, "NE": a != b}[op]


def walk(ins, labels, regs, params, loops, max_steps=100000):
    preds, count, ops, visits = {"PT": True}, 0, collections.Counter(), collections.Counter()
    i, steps = 0, 0
    while i < len(ins) and steps < max_steps:
        steps += 1
        addr, text = ins[i]
        guard = re.match(r"@(!?)(U?P\d|PT)\s+(.*)", text)
        body = guard.group(3) if guard else text
        active = True
        if guard:
            p = preds.get(guard.group(2), False)
            active = (not p) if guard.group(1) else p
        count += 1
        ops[body.split()[0]] += 1
        if not active:
            i += 1
            continue
        parts = body.split(None, 1)
        opc, args = parts[0], (parts[1] if len(parts) > 1 else "")
        a = [x.strip() for x in args.split(",")]
        if opc.startswith("LDC") and re.search(r"c\[0x0\]\[0x[0-9a-f]+\]", args):
            off = int(re.search(r"c\[0x0\]\[(0x[0-9a-f]+)\]", args).group(1), 16)
            regs[a[0]] = params.get(off)
        elif opc.startswith("PRMT") or opc == "MOV" or opc == "IMAD.MOV.U32":
            regs[a[0]] = value(a[1], regs) if opc != "IMAD.MOV.U32" else value(a[3], regs)
        elif opc.startswith("ISETP"):
            cmp = opc.split(".")[1]
            x, y = value(a[2], regs), value(a[3], regs)
            preds[a[0]] = compare(cmp, x, y) if x is not None and y is not None else False
        elif opc == "EXIT":
            break
        elif opc == "BRA":
            target = re.search(r"\((\.L_x_\d+)\)", args).group(1)
            j = labels[target]
            if j <= i:  # a loop's back edge
                visits[i] += 1
                if visits[i] > loops:
                    visits[i] = 0
                    i += 1
                    continue
            i = j
            continue
        i += 1
    return count, ops


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sass")
    ap.add_argument("kernel")
    ap.add_argument("--set", action="append", default=[], help="REG=VALUE")
    ap.add_argument("--byte", action="append", default=[], help="parameter OFFSET=VALUE (hex offset)")
    ap.add_argument("--loop", type=int, default=0)
    o = ap.parse_args()
    ins, labels = parse(o.sass, o.kernel)
    regs = {k: int(v, 0) for k, v in (s.split("=") for s in o.set)}
    params = {int(k, 0): int(v, 0) for k, v in (s.split("=") for s in o.byte)}
    count, ops = walk(ins, labels, regs, params, o.loop)
    loads = sum(v for k, v in ops.items() if k.startswith("LDG"))
    stores = sum(v for k, v in ops.items() if k.startswith("STG"))
    print("executed %d instructions (%d global loads, %d global stores)" % (count, loads, stores))
    print("  " + " ".join("%s:%d" % kv for kv in sorted(ops.items(), key=lambda kv: -kv[1])))


if __name__ == "__main__":
    main()
