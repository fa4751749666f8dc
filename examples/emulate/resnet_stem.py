# ResNet-50's stem (7x7/2 convolution, batch norm, ReLU, 3x3/2 max pooling) on a batch of 64
# 224 x 224 images, bf16 autocast, SGD; channels-last unless --nchw. The shapes of
# examples/bundles_h200_more/resnet50 (channels-last) and resnet50_nchw, whose max-pooling
# launches the emulation reproduces. Runs on a real GPU as it is; `orrery emulate` runs it without one.
import sys

import torch
import torch.nn as nn

dev = torch.device("cuda")
fmt = torch.contiguous_format if "--nchw" in sys.argv else torch.channels_last
model = nn.Sequential(nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
                      nn.MaxPool2d(3, stride=2, padding=1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 1000))
model = model.to(dev).to(memory_format=fmt)
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
x = torch.randn(64, 3, 224, 224, device=dev).to(memory_format=fmt)
y = torch.randint(0, 1000, (64,), device=dev)
for step in range(3):
    opt.zero_grad(set_to_none=True)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    print(f"step {step} loss {loss.item():.4f}")
