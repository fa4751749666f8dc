import torch

model = torch.nn.Linear(64, 64)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for step in range(3):
    loss = model(torch.randn(32, 64)).square().mean()
    loss.backward()
    opt.step()
    if loss.item() > 100:
        print("diverged")
