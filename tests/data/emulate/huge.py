# 40 G parameters (160 GB in fp32, more than this machine's memory): emulates only if no weight,
# gradient or optimizer state is allocated.
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(100_000, 100_000), nn.Linear(100_000, 100_000), nn.Linear(100_000, 100_000),
                      nn.Linear(100_000, 100_000)).cuda()
opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
for _ in range(2):
    with torch.autocast("cuda", dtype=torch.bfloat16):
        loss = model(torch.randn(8, 100_000, device="cuda")).float().square().mean()
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
