# examples/bundles/gpt_b as a script: GPT-2 style, d=1024, 16 layers, 16 heads, seq 2048, batch 4,
# bf16 autocast, fused AdamW (shared/fixtures/README.md).
import torch

from nanogpt import GPT, train

model = GPT(seq=2048, d=1024, layers=16, heads=16).to("cuda")
train(model, batch=4, seq=2048)
