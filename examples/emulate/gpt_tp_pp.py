# A hand-written tensor- and pipeline-parallel GPT in the style of Megatron-LM's core layers:
# column-parallel and row-parallel linears (all-reduce of activations in forward, of input
# gradients in backward), pipeline stages exchanging activations and gradients point to point
# (all forward micro-batches, then all backward: GPipe), data-parallel gradient all-reduce,
# fused AdamW. Runs on GPUs (NCCL, torchrun), on CPUs (gloo) and under `orrery emulate`.
#
#   torchrun --nproc-per-node 8 gpt_tp_pp.py --tp 2 --pp 2
#   orrery emulate gpt_tp_pp.py --world-size 64 --system dgx-h100 --nodes 8 -- --tp 2 --pp 2
import argparse
import contextlib
import os

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

ap = argparse.ArgumentParser()
ap.add_argument("--tp", type=int, default=2)
ap.add_argument("--pp", type=int, default=2)
ap.add_argument("--layers", type=int, default=4)
ap.add_argument("--d-model", type=int, default=512)
ap.add_argument("--heads", type=int, default=8)
ap.add_argument("--ffn", type=int, default=0, help="default 4 x d-model")
ap.add_argument("--seq", type=int, default=256)
ap.add_argument("--micro-batch", type=int, default=2)
ap.add_argument("--micro-batches", type=int, default=4)
ap.add_argument("--vocab", type=int, default=8192)
ap.add_argument("--steps", type=int, default=3)
ap.add_argument("--fp32", action="store_true", help="no bf16 autocast (the CPU reference)")
args = ap.parse_args()

backend = "nccl" if torch.cuda.is_available() else "gloo"
dist.init_process_group(backend)
rank, world = dist.get_rank(), dist.get_world_size()
TP, PP = args.tp, args.pp
if world % (TP * PP) != 0:
    raise ValueError(f"world size {world} is not a multiple of tp x pp = {TP * PP}")
if args.layers % PP or args.heads % TP:
    raise ValueError(f"{args.layers} layers / {args.heads} heads do not split over pp={PP} / tp={TP}")
DP = world // (TP * PP)
dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0))) if backend == "nccl" else torch.device("cpu")
if backend == "nccl":
    torch.cuda.set_device(dev)

# Megatron's rank layout: tp fastest, then dp, then pp. Every rank creates every group.
pp_rank, dp_rank, tp_rank = rank // (TP * DP), (rank // TP) % DP, rank % TP
tp_group = dp_group = None
for p in range(PP):
    for d in range(DP):
        g = dist.new_group([p * TP * DP + d * TP + t for t in range(TP)])
        if p == pp_rank and d == dp_rank:
            tp_group = g
for p in range(PP):
    for t in range(TP):
        g = dist.new_group([p * TP * DP + d * TP + t for d in range(DP)])
        if p == pp_rank and t == tp_rank:
            dp_group = g
prev_rank = rank - TP * DP if pp_rank > 0 else None
next_rank = rank + TP * DP if pp_rank < PP - 1 else None


def _sdpa_math(q, k, v, is_causal=True):  # PyTorch < 2.0 has no F.scaled_dot_product_attention
    s = (q @ k.transpose(-2, -1)) / q.shape[-1] ** 0.5
    mask = torch.ones(s.shape[-2:], dtype=torch.bool, device=s.device).triu(1)
    return s.masked_fill(mask, float("-inf")).softmax(-1) @ v


sdpa = getattr(F, "scaled_dot_product_attention", _sdpa_math)


class _CopyToTP(torch.autograd.Function):   # identity forward, all-reduce of the gradient backward
    @staticmethod
    def forward(ctx, x):
        return x

    @staticmethod
    def backward(ctx, g):
        g = g.contiguous()
        dist.all_reduce(g, group=tp_group)
        return g


class _ReduceFromTP(torch.autograd.Function):  # all-reduce forward, identity backward
    @staticmethod
    def forward(ctx, x):
        x = x.contiguous()
        dist.all_reduce(x, group=tp_group)
        return x

    @staticmethod
    def backward(ctx, g):
        return g


class ColumnParallelLinear(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(o // TP, i) * 0.02)
        self.bias = nn.Parameter(torch.zeros(o // TP))

    def forward(self, x):
        return F.linear(_CopyToTP.apply(x), self.weight, self.bias)


class RowParallelLinear(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(o, i // TP) * 0.02)
        self.bias = nn.Parameter(torch.zeros(o))

    def forward(self, x):
        return _ReduceFromTP.apply(F.linear(x, self.weight)) + self.bias


class Block(nn.Module):
    def __init__(self, d, heads, ffn):
        super().__init__()
        self.heads = heads // TP
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = ColumnParallelLinear(d, 3 * d), RowParallelLinear(d, d)
        self.fc1, self.fc2 = ColumnParallelLinear(d, ffn), RowParallelLinear(ffn, d)

    def forward(self, x):
        B, T, _ = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(B, T, 3, self.heads, -1).permute(2, 0, 3, 1, 4).unbind(0)
        y = sdpa(q, k, v, is_causal=True)
        x = x + self.proj(y.transpose(1, 2).reshape(B, T, -1))
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x)), approximate="tanh"))


class Stage(nn.Module):
    def __init__(self):
        super().__init__()
        d = args.d_model
        self.emb = nn.Embedding(args.vocab, d) if pp_rank == 0 else None
        self.blocks = nn.ModuleList([Block(d, args.heads, args.ffn or 4 * d) for _ in range(args.layers // PP)])
        self.head = nn.Linear(d, args.vocab, bias=False) if pp_rank == PP - 1 else None
        self.ln_f = nn.LayerNorm(d) if pp_rank == PP - 1 else None

    def forward(self, x, targets):
        if self.emb is not None:
            x = self.emb(x)
        for b in self.blocks:
            x = b(x)
        if self.head is None:
            return x
        logits = self.head(self.ln_f(x))
        return F.cross_entropy(logits.view(-1, args.vocab).float(), targets.view(-1))


torch.manual_seed(1234 + pp_rank)
model = Stage().to(dev)
# fused AdamW on GPUs (PyTorch 2.x; the CPU reference on PyTorch 1.13 has no fused AdamW)
fused = {"fused": True} if backend == "nccl" else {}
opt = torch.optim.AdamW(model.parameters(), lr=1e-4, **fused)
MB, T, D = args.micro_batch, args.seq, args.d_model
act_dtype = torch.float32 if args.fp32 or backend == "gloo" else torch.bfloat16
tokens = torch.randint(0, args.vocab, (args.micro_batches, MB, T), device=dev)
use_autocast = backend == "nccl" and not args.fp32

for step in range(args.steps):
    inputs, outputs = [], []
    for m in range(args.micro_batches):              # forward of every micro-batch
        if prev_rank is None:
            x = tokens[m]
        else:
            x = torch.empty(MB, T, D, device=dev, dtype=act_dtype)
            dist.recv(x, src=prev_rank)
            x.requires_grad_()
        with torch.autocast("cuda", dtype=torch.bfloat16) if use_autocast else contextlib.nullcontext():
            y = model(x, tokens[m])
        if next_rank is not None:
            y = y.to(act_dtype)
            dist.send(y.detach().contiguous(), dst=next_rank)
        inputs.append(x)
        outputs.append(y)
    for m in reversed(range(args.micro_batches)):    # backward of every micro-batch
        if next_rank is None:
            (outputs[m] / args.micro_batches).backward()
        else:
            g = torch.empty(MB, T, D, device=dev, dtype=act_dtype)
            dist.recv(g, src=next_rank)
            outputs[m].backward(g)
        if prev_rank is not None:
            dist.send(inputs[m].grad.contiguous(), dst=prev_rank)
    if DP > 1:                                       # data-parallel gradient all-reduce
        flat = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
        dist.all_reduce(flat, group=dp_group)
    opt.step()
    opt.zero_grad(set_to_none=True)
    if next_rank is None and tp_rank == 0 and dp_rank == 0:
        print(f"step {step} loss {outputs[-1].item():.4f}")
dist.destroy_process_group()
