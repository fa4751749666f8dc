"""Adam/AdamW stand-ins: `fused=True` (PyTorch 2.x; absent from 1.13's AdamW) is recorded as the
one aten::_fused_adamw_ op 2.x issues (after the _foreach_add_ of the step counters); otherwise
the optimizer runs as PyTorch's own foreach implementation (2.x's default on CUDA tensors)."""
import torch

from . import fakecuda, state

_Adam, _AdamW = torch.optim.Adam, torch.optim.AdamW


def _make(base, decoupled):
    class Opt(base):
        def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2 if decoupled else 0,
                     amsgrad=False, *, foreach=None, maximize=False, capturable=False, differentiable=False,
                     fused=None, **kw):
            self._orrery_fused = bool(fused)
            super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                             foreach=True if foreach is None else foreach, maximize=maximize)

        @torch.no_grad()
        def step(self, closure=None):
            if not self._orrery_fused:
                return super().step(closure)
            loss = closure() if closure is not None else None
            for g in self.param_groups:
                ps = [p for p in g["params"] if p.grad is not None]
                if not ps:
                    continue
                rec = state.REC
                rec.suspend += 1
                try:
                    for p in ps:
                        st = self.state[p]
                        if not st:
                            st["step"] = torch.zeros((), dtype=torch.float32)
                            st["exp_avg"] = torch.zeros_like(p)
                            st["exp_avg_sq"] = torch.zeros_like(p)
                finally:
                    rec.suspend -= 1
                steps = [self.state[p]["step"] for p in ps]
                fakecuda.synthetic_op("aten::_foreach_add_", [steps, 1], [steps])
                b1, b2 = g["betas"]
                fakecuda.synthetic_op(
                    "aten::_fused_adamw_" if decoupled else "aten::_fused_adam_",
                    [ps, [p.grad for p in ps], [self.state[p]["exp_avg"] for p in ps],
                     [self.state[p]["exp_avg_sq"] for p in ps], [], steps, float(g["lr"]), b1, b2,
                     float(g["weight_decay"]), float(g["eps"]), bool(g["amsgrad"]), bool(g.get("maximize", False)),
                     None, None],
                    [ps])
            return loss
    Opt.__name__ = base.__name__
    Opt.__qualname__ = base.__qualname__
    return Opt


def install():
    sgd = torch.optim.SGD

    class SGD(sgd):  # 2.x uses the foreach implementation for CUDA tensors by default
        def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                     maximize=False, foreach=None, differentiable=False, fused=None):
            super().__init__(params, lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                             nesterov=nesterov, maximize=maximize, foreach=True if foreach is None else foreach)
    torch.optim.SGD = SGD
    torch.optim.Adam = _make(_Adam, False)
    torch.optim.AdamW = _make(_AdamW, True)
