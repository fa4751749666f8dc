import torch

opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(4))], lr=0.1)
for _ in range(3):
    opt.step()
