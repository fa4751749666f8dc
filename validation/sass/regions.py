#!/usr/bin/env python3
"""Instructions in address ranges of a kernel's SASS, less the slow-path stubs of 1/x.

    regions.py SASS KERNEL LO-HI...

SASS is nvdisasm's output (`nvdisasm -c`); LO-HI are hexadecimal instruction addresses, both
included. A stub is the fall-through of a predicated branch that calls a `..._slowpath` routine
(MOV, MOV, CALL, BRA): the fast path of `1/x` jumps over it, so it is not counted. For loops whose
trip counts depend on the thread index (walk.py decides no such branch): count the loop body's
range once and multiply by its trip count.
"""
import sys

from walk import parse


def stub_flags(ins):
    """True for the instructions of a slow-path stub."""
    flags = [False] * len(ins)
    for i, (_, text) in enumerate(ins):
        if not (text.startswith("@") and "BRA" in text):
            continue
        j = i + 1
        while j < len(ins) and not ins[j][1].startswith("BRA") and j - i < 8:
            j += 1
        if j < len(ins) and any("CALL" in ins[k][1] and "slowpath" in ins[k][1] for k in range(i + 1, j)):
            for k in range(i + 1, j + 1):
                flags[k] = True
    return flags


def main():
    if len(sys.argv) < 4:
        sys.exit("usage: regions.py SASS KERNEL LO-HI...")
    ins, _ = parse(sys.argv[1], sys.argv[2])
    stub = stub_flags(ins)
    for r in sys.argv[3:]:
        lo, hi = (int(x, 16) for x in r.split("-"))
        n = sum(1 for (a, _), s in zip(ins, stub) if lo <= a <= hi and not s)
        print("%s %d" % (r, n))


if __name__ == "__main__":
    main()
