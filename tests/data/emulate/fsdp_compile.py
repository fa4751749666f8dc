# FSDP (auto-wrapped per block), torch.compile, a profiler whose step() ends each step, and a side
# CUDA stream with an event: the features `orrery emulate` stands in for (tests/emulate_test.cpp).
import functools

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
from torch.distributed.fsdp.wrap import transformer_auto_wrap_policy


class Block(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x):
        return x + self.fc2(torch.relu(self.fc1(x)))


dist.init_process_group("nccl")
model = nn.Sequential(*[Block(256) for _ in range(3)]).cuda()
model = FSDP(model, auto_wrap_policy=functools.partial(transformer_auto_wrap_policy, transformer_layer_cls={Block}))
model = torch.compile(model)
opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
side = torch.cuda.Stream()
x = torch.randn(64, 256, device="cuda")
with torch.profiler.profile(schedule=torch.profiler.schedule(wait=0, warmup=1, active=2)) as prof:
    for step in range(3):
        with torch.cuda.stream(side):
            y = x * 2
        done = torch.cuda.Event()
        done.record(side)
        torch.cuda.current_stream().wait_event(done)
        loss = model(y).square().mean()
        loss.backward()
        opt.step()
        opt.zero_grad()
        prof.step()
torch.cuda.synchronize()
