import torch

w = torch.nn.Parameter(torch.randn(16, 16))
opt = torch.optim.SGD([w], lr=0.1)
for _ in range(2):
    idx = torch.nonzero(w > 0)
    (w[idx[:, 0]].sum()).backward()
    opt.step()
