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
        self.step_source = None    # "optimizer" | "profiler" (profiler marks win when present)
        self.counts = {}           # step marks per source
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
        """A step ends at optimizer.step(), or at torch.profiler's step() when the script has a
        profiler (its marks win once one is seen)."""
        self.events.append({"k": "step", "src": source})
        self.counts[source] = self.counts.get(source, 0) + 1
        self.step_source = "profiler" if self.counts.get("profiler") else "optimizer"
        self.steps = self.counts[self.step_source]
        if self.max_steps and source == self.step_source and self.steps >= self.max_steps:
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
