"""Runs the user's script as one rank: installs the stand-ins, enters FakeTensorMode + the op
recorder + CUDA autocast, runs the script as __main__, and writes the recording (JSON).
Usage: python -m orrery_emulate.worker OUT.json RANK WORLD DEVICES_PER_NODE MAX_STEPS STRICT SCRIPT [ARGS...]"""
import json
import os
import runpy
import sys
import traceback


def _summarise(exc, script):
    """One line: the exception and the innermost frame of the user's script (file:line)."""
    tb = traceback.extract_tb(exc.__traceback__)
    where = None
    for fr in tb:
        if os.path.abspath(fr.filename) == os.path.abspath(script) or not _lib(fr.filename):
            where = "%s:%d" % (os.path.basename(fr.filename), fr.lineno)
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return "%s: %s%s" % (where or os.path.basename(script), type(exc).__name__, ": " + msg if msg else "")


def _lib(path):
    here = os.path.dirname(os.path.abspath(__file__))
    p = os.path.abspath(path)
    return p.startswith(here) or "/torch/" in p or p.startswith(sys.base_prefix) or path.startswith("<")


def main(argv):
    out, rank, world, per_node, max_steps, strict, script = argv[:7]
    rank, world, per_node, max_steps = int(rank), int(world), int(per_node), int(max_steps)
    script_args = argv[7:]
    result = {"rank": rank, "world_size": world, "ok": False}
    try:
        import torch
    except ImportError as e:
        result["error"] = "PyTorch is not importable by %s (%s); install python3-torch (apt) or set ORRERY_PYTHON" % (
            sys.executable, e)
        json.dump(result, open(out, "w"))
        return 3
    from torch._subclasses.fake_tensor import FakeTensorMode

    from . import fakecuda, fakedist, parallel, record, state
    rec = state.Recording(rank, world, script, max_steps)
    rec.local_rank = rank % per_node
    rec.strict_data = strict == "1"
    state.REC = rec
    os.environ.update({"RANK": str(rank), "WORLD_SIZE": str(world), "LOCAL_RANK": str(rank % per_node),
                       "LOCAL_WORLD_SIZE": str(per_node), "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500",
                       "ORRERY_EMULATE": "1"})
    fakecuda.install_cuda(rec.local_rank, per_node)
    fakecuda.install_step_marks()
    fakecuda.install_profiler()
    fakecuda.install_2x()
    fakedist.install()
    parallel.install()
    record.install_backward_flag()
    sys.argv = [script] + script_args
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    stopped = False
    try:
        with FakeTensorMode(allow_fallback_kernels=False), record.OpRecorder(), record.AutocastMode():
            runpy.run_path(script, run_name="__main__")
    except state.StopEmulation:
        stopped = True
    except state.EmulationError as e:
        result["error"] = str(e)
    except SystemExit as e:
        if e.code not in (None, 0):
            result["error"] = "%s: the script exited with status %s" % (os.path.basename(script), e.code)
    except BaseException as e:  # noqa: BLE001 - the user's script failed: one line with its file:line
        result["error"] = "the script failed: " + _summarise(e, script)
    result.update({"ok": "error" not in result, "stopped": stopped, "steps": rec.steps, "step_source": rec.step_source,
                   "groups": rec.groups, "events": rec.events, "notes": rec.notes})
    with open(out, "w") as f:
        f.write(json.dumps(result, separators=(",", ":")))  # dumps: the C encoder (dump is pure Python)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
