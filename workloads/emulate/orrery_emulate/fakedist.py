"""A fake torch.distributed of the requested world size: every rank of the script sees the same
groups (new_group is collective, so all ranks create all groups in the same order, as in real
PyTorch); collectives and point-to-point ops are recorded with group, size, dtype and order and
return at once.  NCCL semantics for streams: a collective runs on its group's NCCL stream after
the current stream (event), and the current stream waits for it (sync op) or at work.wait()."""
import itertools

import torch
import torch.distributed as dist

from . import record, state

_comm_streams = {}
_events = itertools.count(100000)
_NCCL_DT = {torch.float32: "Float", torch.bfloat16: "BFloat16", torch.float16: "Half", torch.int64: "Long",
            torch.int32: "Int", torch.uint8: "Byte", torch.int8: "Char", torch.float64: "Double", torch.bool: "Bool"}


class FakeGroup:
    def __init__(self, name, ranks, desc):
        self.name, self.ranks, self.desc = name, list(ranks), desc

    def rank(self):
        r = state.REC.rank
        return self.ranks.index(r) if r in self.ranks else -1

    def size(self):
        return len(self.ranks)

    def __repr__(self):
        return "FakeGroup(%s, %s)" % (self.name, self.ranks)


class Work:
    def __init__(self, event, stream):
        self.event, self.stream = event, stream

    def wait(self, timeout=None):
        if self.event is not None:
            state.REC.add({"k": "wait", "event": self.event, "stream": state.REC.stream})
            self.event = None
        return True

    def is_completed(self):
        return True

    def is_success(self):
        return True

    def get_future(self):
        fut = torch.futures.Future()
        fut.set_result(None)
        return fut

    def synchronize(self):
        self.wait()


_G = {"world": None, "groups": []}


def world():
    if _G["world"] is None:
        raise state.EmulationError("%s: a torch.distributed call before init_process_group()" % state.REC.user_line())
    return _G["world"]


def _group(g):
    if g is None or g is dist.group.WORLD:
        return world()
    if isinstance(g, FakeGroup):
        return g
    raise state.EmulationError("%s: unknown process group %r" % (state.REC.user_line(), g))


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1, store=None,
                       group_name="", pg_options=None, device_id=None):
    rec = state.REC
    if world_size not in (-1, None) and world_size != rec.world_size:
        raise state.EmulationError("%s: init_process_group(world_size=%d), but --world-size is %d" % (
            rec.user_line(), world_size, rec.world_size))
    _G["world"] = FakeGroup("0", range(rec.world_size), "default_pg")
    _G["groups"] = [_G["world"]]
    rec.groups.append({"name": "0", "ranks": list(range(rec.world_size)), "desc": "default_pg"})


def new_group(ranks=None, timeout=None, backend=None, pg_options=None, use_local_synchronization=False,
              group_desc=None):
    rec = state.REC
    ranks = sorted(int(r) for r in ranks) if ranks is not None else list(range(rec.world_size))
    bad = [r for r in ranks if r < 0 or r >= rec.world_size]
    if bad:
        raise state.EmulationError("%s: new_group(ranks=%s...) names rank %d, but the world size is %d "
                                   "(the script's parallel layout does not fit --world-size %d)" % (
                                       rec.user_line(), ranks[:8], bad[0], rec.world_size, rec.world_size))
    name = str(len(_G["groups"]))
    g = FakeGroup(name, ranks, group_desc or "group %s" % name)
    _G["groups"].append(g)
    rec.groups.append({"name": name, "ranks": ranks, "desc": g.desc})
    return g if rec.rank in ranks else dist.GroupMember.NON_GROUP_MEMBER


def get_rank(group=None):
    if group is None and _G["world"] is None:
        return -1
    return _group(group).rank()


def get_world_size(group=None):
    if group is None and _G["world"] is None:
        return -1
    return _group(group).size()


def get_global_rank(group, group_rank):
    return _group(group).ranks[group_rank]


def _comm_stream(g):
    s = _comm_streams.get(g.name)
    if s is None:
        s = _comm_streams[g.name] = 20 + len(_comm_streams)
    return s


def _nelems(x):
    return sum(t.numel() for t in record._flat_tensors(x))


def collective(name, g, tensors, in_nelems, out_nelems=None, peer=None, async_op=False):
    """Records one NCCL collective (record_param_comms) on the group's NCCL stream."""
    rec = state.REC
    g = _group(g)
    ts = record._flat_tensors(tensors)
    dt = ts[0].dtype if ts else torch.float32
    seq = rec.seq.get(g.name, 0)
    rec.seq[g.name] = seq + 1
    cur = rec.stream
    cs = _comm_stream(g) if g.size() > 1 else cur
    before, after = next(_events), next(_events)
    if g.size() > 1:
        rec.add({"k": "record", "event": before, "stream": cur})
        rec.add({"k": "wait", "event": before, "stream": cs})
    rec.add({"k": "coll", "name": name, "pg": g.name, "pg_desc": g.desc, "pg_size": g.size(), "pg_ranks": g.ranks,
             "in_nelems": int(in_nelems), "out_nelems": int(out_nelems if out_nelems is not None else in_nelems),
             "dtype": _NCCL_DT.get(dt, "Float"), "seq": seq, "peer": peer, "stream": cs,
             "tensors": [record.tensor_meta(t) for t in ts[:1]]})
    if g.size() > 1:
        rec.add({"k": "record", "event": after, "stream": cs})
    work = Work(after if g.size() > 1 else None, cs)
    if not async_op:
        work.wait()
        return None
    return work


def all_reduce(tensor, op=None, group=None, async_op=False):
    return collective("allreduce", group, tensor, tensor.numel(), async_op=async_op)


def reduce(tensor, dst=0, op=None, group=None, async_op=False):
    return collective("reduce", group, tensor, tensor.numel(), async_op=async_op)


def broadcast(tensor, src=0, group=None, async_op=False):
    return collective("broadcast", group, tensor, tensor.numel(), async_op=async_op)


def all_gather(tensor_list, tensor, group=None, async_op=False):
    return collective("all_gather", group, tensor, tensor.numel(), _nelems(tensor_list), async_op=async_op)


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    return collective("_allgather_base", group, input_tensor, input_tensor.numel(), output_tensor.numel(),
                      async_op=async_op)


def reduce_scatter(output, input_list, op=None, group=None, async_op=False):
    return collective("reduce_scatter", group, input_list, _nelems(input_list), output.numel(), async_op=async_op)


def reduce_scatter_tensor(output, input, op=None, group=None, async_op=False):
    return collective("_reduce_scatter_base", group, input, input.numel(), output.numel(), async_op=async_op)


def all_to_all_single(output, input, output_split_sizes=None, input_split_sizes=None, group=None, async_op=False):
    return collective("all_to_all", group, input, input.numel(), output.numel(), async_op=async_op)


def all_to_all(output_tensor_list, input_tensor_list, group=None, async_op=False):
    return collective("all_to_all", group, input_tensor_list, _nelems(input_tensor_list), _nelems(output_tensor_list),
                      async_op=async_op)


def barrier(group=None, async_op=False, device_ids=None):
    return collective("barrier", group, torch.empty(1), 1, async_op=async_op)


def _p2p(name, tensor, peer, group, async_op):
    rec = state.REC
    g = _group(group)
    gpeer = g.ranks[peer] if group is not None and g is not _G["world"] else peer
    if gpeer < 0 or gpeer >= rec.world_size or gpeer == rec.rank:
        raise state.EmulationError("%s: %s with peer rank %d at rank %d of world size %d" % (
            rec.user_line(), name, gpeer, rec.rank, rec.world_size))
    pair = FakeGroup("p2p:%d-%d" % tuple(sorted((rec.rank, gpeer))), sorted((rec.rank, gpeer)), "p2p")
    # NCCL numbers point-to-point per peer pair; the pair's stream serves both directions.
    return collective(name, pair, tensor, tensor.numel(), peer=gpeer, async_op=async_op)


def send(tensor, dst, group=None, tag=0):
    _p2p("send", tensor, dst, group, False)


def recv(tensor, src=None, group=None, tag=0):
    _p2p("recv", tensor, src, group, False)
    return src


def isend(tensor, dst, group=None, tag=0):
    return _p2p("send", tensor, dst, group, True)


def irecv(tensor, src=None, group=None, tag=0):
    return _p2p("recv", tensor, src, group, True)


class P2POp:
    def __init__(self, op, tensor, peer, group=None, tag=0):
        self.op, self.tensor, self.peer, self.group, self.tag = op, tensor, peer, group, tag


def batch_isend_irecv(p2p_op_list):
    return [p.op(p.tensor, p.peer, p.group, p.tag) for p in p2p_op_list]


def install():
    d = dist
    d.is_available = lambda: True
    d.is_initialized = lambda: _G["world"] is not None
    d.is_nccl_available = lambda: True
    d.is_torchelastic_launched = lambda: True
    d.get_backend = lambda group=None: "nccl"
    d.destroy_process_group = lambda group=None: None
    d.monitored_barrier = lambda group=None, timeout=None, wait_all_ranks=False: barrier(group)
    d.get_process_group_ranks = lambda group: list(_group(group).ranks)
    for f in (init_process_group, new_group, get_rank, get_world_size, get_global_rank, all_reduce, reduce,
              broadcast, all_gather, all_gather_into_tensor, reduce_scatter, reduce_scatter_tensor,
              all_to_all_single, all_to_all, barrier, send, recv, isend, irecv, batch_isend_irecv):
        setattr(d, f.__name__, f)
        if hasattr(d, "distributed_c10d"):
            setattr(d.distributed_c10d, f.__name__, f)
    d._all_gather_base = all_gather_into_tensor
    d._reduce_scatter_base = reduce_scatter_tensor
    d.P2POp = P2POp
    d.distributed_c10d._get_global_rank = get_global_rank
