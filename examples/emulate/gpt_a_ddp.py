# examples/bundles/gpt_a_ddp as a script: GPT-2 style, d=768, 12 layers, 12 heads, seq 1024,
# batch 8, bf16 autocast, fused AdamW, DistributedDataParallel (NCCL, 25 MB buckets).
# Launch on GPUs with torchrun; `orrery emulate --world-size N` emulates N ranks.
import os

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP

from nanogpt import GPT, train

dist.init_process_group("nccl")
torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
model = GPT(seq=1024, d=768, layers=12, heads=12).to("cuda")
ddp = DDP(model, device_ids=[torch.cuda.current_device()], bucket_cap_mb=25)
train(model, batch=8, seq=1024, ddp=ddp)
dist.destroy_process_group()
