# examples/bundles/mlp_fp32 as a script: 6 x Linear(4096, 4096) + ReLU, batch 4096, fp32 (no TF32),
# SGD (shared/fixtures/README.md). Runs on a real GPU as it is; `orrery emulate` runs it without one.
import torch
import torch.nn as nn

torch.backends.cuda.matmul.allow_tf32 = False
dev = torch.device("cuda")
model = nn.Sequential(*[m for _ in range(6) for m in (nn.Linear(4096, 4096), nn.ReLU())]).to(dev)
opt = torch.optim.SGD(model.parameters(), lr=1e-3)
x = torch.randn(4096, 4096, device=dev)
y = torch.randn(4096, 4096, device=dev)
for step in range(5):
    opt.zero_grad(set_to_none=True)
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    opt.step()
    print(f"step {step} loss {loss.item():.4f}")
