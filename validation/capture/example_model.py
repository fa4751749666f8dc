"""Example of a user workload for capture.py:  --model-module validation/capture/example_model.py:build

build(args, device) returns {"step": callable running one full step, "model": nn.Module (for the
parameter count), "meta": dict recorded in measured.json}. args are capture.py's arguments.
"""


def build(args, device):
    import torch

    model = torch.nn.Sequential(
        torch.nn.Linear(1024, 4096), torch.nn.GELU(), torch.nn.Linear(4096, 1024)
    ).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    batch = args.batch or 512
    x = torch.randn(batch, 1024, device=device)

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model(x).float().pow(2).mean()
        loss.backward()
        opt.step()

    return {"step": step, "model": model, "meta": {"batch": batch, "d": 1024, "ffn": 4096, "amp": "bf16"}}
