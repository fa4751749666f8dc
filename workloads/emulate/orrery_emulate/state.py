"""The recording of one emulated rank: an ordered list of events (ops, collectives, syncs, step
marks) plus the process groups the script created.  Owned by worker.py; filled by record.py
(aten ops), fakedist.py (collectives), fakecuda.py (streams, events, syncs)."""
import itertools
import os
import sys
import traceback


class StopEmulation(BaseException):
    """Raised after the requested number of steps: ends the user's script early (BaseException so
    that a script's `except Exception` does not swallow it)."""


class EmulationError(Exception):
    """A one-line error for the user (the driver prints it as `orrery emulate: error: ...`)."""


class Recording:
    def __init__(self, rank, world_size, script, max_steps):
        self.rank = rank
        self.world_size = world_size
        self.script = os.path.abspath(script)
        self.max_steps = max_steps
        self.events = []           # dicts, issue order
        self.groups = []           # [{"name": "0", "ranks": [...], "desc": "default_pg"}]
        self.scopes = []           # open region names (Optimizer.step, DDP forward ...)
        self.steps = 0             # completed steps (optimizer.step() or profiler step())
        self.step_source = None    # "optimizer" | "profiler": the first one seen wins
        self.stream = 7            # current CUDA stream id (7 = default stream, as in real traces)
        self.notes = []            # placeholder warnings (file:line)
        self.seq = {}              # process group name -> collective sequence number
        self.ids = itertools.count(1)
        self.suspend = 0           # >0: ops are not recorded (stand-ins computing shapes)

    # ---- events ----
    def add(self, ev):
        if self.suspend:
            return None
        ev["stream"] = ev.get("stream", self.stream)
        ev["scope"] = list(self.scopes)
        self.events.append(ev)
        return ev

    def mark_step(self, source):
        if self.step_source is None:
            self.step_source = source
        if source != self.step_source:
            return
        self.events.append({"k": "step", "src": source})
        self.steps += 1
        if self.max_steps and self.steps >= self.max_steps:
            raise StopEmulation()

    def user_line(self):
        """file:line of the innermost frame of the user's script (for messages)."""
        for fr in reversed(traceback.extract_stack()):
            if os.path.abspath(fr.filename) == self.script or not _is_library(fr.filename):
                return "%s:%d" % (os.path.basename(fr.filename), fr.lineno)
        return os.path.basename(self.script)


def _is_library(path):
    p = os.path.abspath(path)
    here = os.path.dirname(os.path.abspath(__file__))
    return p.startswith(here) or "/torch/" in p or p.startswith(sys.prefix) or "<" in path


REC = None  # the Recording of this process (one rank per process)
