import torch

x = torch.randn(8, 8) @ torch.randn(8, 8)
print("no optimizer, no step")
