#!/usr/bin/env python3
"""Capture one step of a PyTorch workload as an orrery bundle (the layout of examples/bundles/*):

    OUT/et.json.gz       PyTorch Execution Trace (torch.profiler.ExecutionTraceObserver) of the traced step
    OUT/kineto.json.gz   Kineto/Chrome trace of the same step (torch.profiler, record_shapes=True)
    OUT/host_dispatch.json  this machine's host dispatch table (host_micro.py), measured after the
                         timed steps, before the profiler
    OUT/measured.json    ground truth WITHOUT the profiler: step_cuda_events (median/min/max/all of 20
                         steps timed with CUDA events after 5 warm-ups), step_wall (host timers, same
                         steps), profiled_steps_wall_ms (the steps under the profiler; the last one is the
                         traced step), max_mem_allocated, params, meta, files

Protocol (as the fixtures were captured): build the workload, 5 warm-up steps, 20 timed steps without
the profiler, then 3 steps under the profiler (schedule wait=0, warmup=2, active=1): the third is traced.

Built-in workloads (--model): mlp, gpt, llama, resnet50, prefill (inference forward of a prompt),
decode (one memory-bound decode token against a KV cache), bert (a BERT-base-style encoder: post-LN,
unfused attention bmm + softmax + dropout, tanh GELU; training, or --infer for an eval forward),
mobilenet (MobileNetV2: depthwise 3x3 convolutions, ReLU6). --sdpa-backend pins the attention backend. Your own: --model-module file.py:build,
where build(args, device) returns a dict {"step": callable doing one full step, "model": nn.Module
(optional, for the parameter count), "meta": dict (optional)}.

Examples (on a GPU machine, PyTorch >= 2.4):
    python3 validation/capture/capture.py --model gpt --out bundles/gpt_small
    python3 validation/capture/capture.py --model llama --d 2048 --layers 8 --seq 2048 --batch 2 --out bundles/llama
    python3 validation/capture/capture.py --model-module my_model.py:build --out bundles/mine
    torchrun --nproc-per-node 2 validation/capture/capture.py --model gpt --ddp --out bundles/gpt_ddp2
then:  orrery validate bundles/* --report report.html
"""
import argparse
import gzip
import importlib.util
import json
import os
import shutil
import statistics
import time


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="gpt", choices=["mlp", "gpt", "llama", "resnet50", "prefill", "decode", "bert",
                                                           "mobilenet"])
    p.add_argument("--model-module", default="", help="FILE.py:FUNCTION building your own workload")
    p.add_argument("--out", required=True, help="bundle folder to write")
    p.add_argument("--name", default="", help="bundle name (default: the folder name)")
    p.add_argument("--batch", type=int, default=0, help="batch size (default depends on the model)")
    p.add_argument("--seq", type=int, default=0, help="sequence length (gpt/llama/prefill; decode: KV cache length)")
    p.add_argument("--d", type=int, default=0, help="model width")
    p.add_argument("--layers", type=int, default=0)
    p.add_argument("--heads", type=int, default=0)
    p.add_argument("--kv-heads", type=int, default=0, help="llama/prefill/decode: grouped-query KV heads")
    p.add_argument("--ffn", type=int, default=0, help="llama: SwiGLU hidden size")
    p.add_argument("--vocab", type=int, default=0)
    p.add_argument("--amp", default="bf16", choices=["bf16", "fp16", "none"], help="autocast dtype (mlp ignores it)")
    p.add_argument("--dtype", default="fp32", choices=["fp32", "tf32", "bf16"], help="mlp: parameter dtype / TF32")
    p.add_argument("--opt", default="", choices=["", "adamw", "sgd"],
                   help="optimizer: fused AdamW or SGD momentum (default: SGD for mlp and resnet50, AdamW otherwise)")
    p.add_argument("--infer", action="store_true", help="bert: an eval forward under torch.no_grad, no backward")
    p.add_argument("--memory-format", default="channels_last", choices=["channels_last", "contiguous"],
                   help="resnet50: the activations' and weights' memory format")
    p.add_argument("--ddp", action="store_true", help="wrap in DistributedDataParallel (run under torchrun)")
    p.add_argument("--bucket-mb", type=float, default=25.0, help="DDP bucket size")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--steps", type=int, default=20, help="timed steps without the profiler")
    p.add_argument("--sdpa-backend", default="", choices=["", "flash", "efficient", "cudnn", "math"],
                   help="run the step with only this scaled_dot_product_attention backend enabled")
    p.add_argument("--compile", action="store_true", help="torch.compile the model (traces then show Triton kernels)")
    p.add_argument("--compile-mode", default="default", choices=["default", "reduce-overhead", "max-autotune"],
                   help="torch.compile mode; reduce-overhead replays CUDA graphs (traces show cudaGraphLaunch)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-host-table", action="store_true",
                   help="skip host_dispatch.json (this machine's host dispatch table, host_micro.py; ~20 s)")
    return p.parse_args(argv)


# ---------------------------------------------------------------------------------------------------
# Built-in models (PyTorch is imported lazily so that `--help` works without it).
# ---------------------------------------------------------------------------------------------------
def gpt_models(torch):
    """The MLP and the GPT-2-style transformer."""
    nn = torch.nn
    F = torch.nn.functional

    class MLP(nn.Module):
        def __init__(self, d, layers):
            super().__init__()
            self.net = nn.Sequential(*[m for _ in range(layers) for m in (nn.Linear(d, d), nn.ReLU())])

        def forward(self, x):
            return self.net(x)

    class GPTBlock(nn.Module):
        def __init__(self, d, heads):
            super().__init__()
            self.heads = heads
            self.ln1 = nn.LayerNorm(d)
            self.qkv = nn.Linear(d, 3 * d)
            self.proj = nn.Linear(d, d)
            self.ln2 = nn.LayerNorm(d)
            self.fc = nn.Linear(d, 4 * d)
            self.fc2 = nn.Linear(4 * d, d)

        def forward(self, x):
            b, t, d = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(d, dim=2)
            q, k, v = (z.view(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.proj(y.transpose(1, 2).contiguous().view(b, t, d))
            return x + self.fc2(F.gelu(self.fc(self.ln2(x))))

    class GPT(nn.Module):
        def __init__(self, vocab, d, layers, heads, seq):
            super().__init__()
            self.tok = nn.Embedding(vocab, d)
            self.pos = nn.Embedding(seq, d)
            self.blocks = nn.ModuleList([GPTBlock(d, heads) for _ in range(layers)])
            self.ln = nn.LayerNorm(d)
            self.head = nn.Linear(d, vocab, bias=False)
            self.head.weight = self.tok.weight

        def forward(self, idx):
            t = idx.shape[1]
            x = self.tok(idx) + self.pos(torch.arange(t, device=idx.device))
            for blk in self.blocks:
                x = blk(x)
            return self.head(self.ln(x))

    return dict(MLP=MLP, GPT=GPT)


def llama_models(torch):
    """The Llama-style transformer (RMSNorm, RoPE, SwiGLU, GQA; an optional KV cache for decode)."""
    nn = torch.nn
    F = torch.nn.functional

    class RMSNorm(nn.Module):
        def __init__(self, d, eps=1e-5):
            super().__init__()
            self.eps = eps
            self.weight = nn.Parameter(torch.ones(d))

        def forward(self, x):
            return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight

    def rope(x, cos, sin):
        x1, x2 = x[..., ::2], x[..., 1::2]
        return torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).flatten(-2)

    class LlamaBlock(nn.Module):
        def __init__(self, d, heads, kv_heads, ffn):
            super().__init__()
            self.heads, self.kv_heads, self.hd = heads, kv_heads, d // heads
            self.n1 = RMSNorm(d)
            self.wq = nn.Linear(d, d, bias=False)
            self.wk = nn.Linear(d, kv_heads * self.hd, bias=False)
            self.wv = nn.Linear(d, kv_heads * self.hd, bias=False)
            self.wo = nn.Linear(d, d, bias=False)
            self.n2 = RMSNorm(d)
            self.w1 = nn.Linear(d, ffn, bias=False)
            self.w3 = nn.Linear(d, ffn, bias=False)
            self.w2 = nn.Linear(ffn, d, bias=False)

        def attend(self, h, cos, sin, cache=None):
            b, t, d = h.shape
            q = self.wq(h).view(b, t, self.heads, self.hd).transpose(1, 2)
            k = self.wk(h).view(b, t, self.kv_heads, self.hd).transpose(1, 2)
            v = self.wv(h).view(b, t, self.kv_heads, self.hd).transpose(1, 2)
            q, k = rope(q, cos, sin), rope(k, cos, sin)
            causal = True
            if cache is not None:  # decode: attend to the cache (fixed length) plus the new token
                ck, cv = cache
                k = torch.cat([ck, k], dim=2)
                v = torch.cat([cv, v], dim=2)
                causal = False
            rep = self.heads // self.kv_heads
            if rep > 1:
                k = k.repeat_interleave(rep, dim=1)
                v = v.repeat_interleave(rep, dim=1)
            y = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
            return self.wo(y.transpose(1, 2).reshape(b, t, d))

        def forward(self, x, cos, sin, cache=None):
            x = x + self.attend(self.n1(x), cos, sin, cache)
            h = self.n2(x)
            return x + self.w2(F.silu(self.w1(h)) * self.w3(h))

    class Llama(nn.Module):
        def __init__(self, vocab, d, layers, heads, kv_heads, ffn, seq):
            super().__init__()
            self.tok = nn.Embedding(vocab, d)
            self.blocks = nn.ModuleList([LlamaBlock(d, heads, kv_heads, ffn) for _ in range(layers)])
            self.norm = RMSNorm(d)
            self.head = nn.Linear(d, vocab, bias=False)
            hd = d // heads
            inv = 1.0 / (10000 ** (torch.arange(0, hd, 2).float() / hd))
            ang = torch.outer(torch.arange(seq + 1).float(), inv)
            self.register_buffer("cos", ang.cos(), persistent=False)
            self.register_buffer("sin", ang.sin(), persistent=False)

        def forward(self, idx, caches=None, pos=0):
            t = idx.shape[1]
            cos, sin = self.cos[pos:pos + t], self.sin[pos:pos + t]
            x = self.tok(idx)
            for i, blk in enumerate(self.blocks):
                x = blk(x, cos, sin, None if caches is None else caches[i])
            return self.head(self.norm(x))

    return dict(Llama=Llama)


def resnet_models(torch):
    """ResNet-50 (bottleneck blocks)."""
    nn = torch.nn
    F = torch.nn.functional

    class Bottleneck(nn.Module):
        def __init__(self, cin, width, stride):
            super().__init__()
            cout = width * 4
            self.c1 = nn.Conv2d(cin, width, 1, bias=False)
            self.b1 = nn.BatchNorm2d(width)
            self.c2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
            self.b2 = nn.BatchNorm2d(width)
            self.c3 = nn.Conv2d(width, cout, 1, bias=False)
            self.b3 = nn.BatchNorm2d(cout)
            self.down = None
            if stride != 1 or cin != cout:
                self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            y = F.relu(self.b1(self.c1(x)))
            y = F.relu(self.b2(self.c2(y)))
            y = self.b3(self.c3(y))
            return F.relu(y + (x if self.down is None else self.down(x)))

    class ResNet50(nn.Module):
        def __init__(self, classes=1000):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                                      nn.MaxPool2d(3, 2, 1))
            layers, cin = [], 64
            for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
                for i in range(blocks):
                    layers.append(Bottleneck(cin, width, stride if i == 0 else 1))
                    cin = width * 4
            self.layers = nn.Sequential(*layers)
            self.fc = nn.Linear(cin, classes)

        def forward(self, x):
            x = self.layers(self.stem(x))
            return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

    return dict(ResNet50=ResNet50)


def bert_models(torch):
    """A BERT-style encoder: post-LN blocks, attention written out (matmul, softmax, dropout: the
    path older encoders take instead of sdpa), tanh-approximated GELU, a masked-LM head."""
    nn = torch.nn
    F = torch.nn.functional

    class EncoderBlock(nn.Module):
        def __init__(self, d, heads, ffn, p):
            super().__init__()
            self.heads, self.p = heads, p
            self.qkv = nn.Linear(d, 3 * d)
            self.proj = nn.Linear(d, d)
            self.ln1 = nn.LayerNorm(d)
            self.fc = nn.Linear(d, ffn)
            self.fc2 = nn.Linear(ffn, d)
            self.ln2 = nn.LayerNorm(d)

        def forward(self, x, mask):
            b, t, d = x.shape
            h = self.heads
            q, k, v = (z.view(b, t, h, d // h).transpose(1, 2) for z in self.qkv(x).split(d, dim=2))
            s = torch.matmul(q, k.transpose(-1, -2)) / (d // h) ** 0.5 + mask
            a = F.dropout(F.softmax(s, dim=-1), self.p, self.training)
            y = torch.matmul(a, v).transpose(1, 2).reshape(b, t, d)
            x = self.ln1(x + F.dropout(self.proj(y), self.p, self.training))
            f = self.fc2(F.gelu(self.fc(x), approximate="tanh"))
            return self.ln2(x + F.dropout(f, self.p, self.training))

    class Bert(nn.Module):
        def __init__(self, vocab, d, layers, heads, ffn, seq, p=0.1):
            super().__init__()
            self.tok = nn.Embedding(vocab, d)
            self.pos = nn.Embedding(seq, d)
            self.ln = nn.LayerNorm(d)
            self.blocks = nn.ModuleList([EncoderBlock(d, heads, ffn, p) for _ in range(layers)])
            self.head = nn.Linear(d, vocab)
            self.p = p

        def forward(self, idx, mask):
            t = idx.shape[1]
            x = self.ln(self.tok(idx) + self.pos(torch.arange(t, device=idx.device)))
            x = F.dropout(x, self.p, self.training)
            m = (1.0 - mask[:, None, None, :].to(x.dtype)) * -10000.0
            for blk in self.blocks:
                x = blk(x, m)
            return self.head(x)

    return dict(Bert=Bert)


def mobilenet_models(torch):
    """MobileNetV2 (inverted residuals: 1x1 expand, 3x3 depthwise, 1x1 project; ReLU6)."""
    nn = torch.nn

    def cbr(cin, cout, k=1, stride=1, groups=1, act=True):
        m = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
        return m + [nn.ReLU6(inplace=True)] if act else m

    class Inverted(nn.Module):
        def __init__(self, cin, cout, stride, t):
            super().__init__()
            h = cin * t
            layers = (cbr(cin, h) if t != 1 else []) + cbr(h, h, 3, stride, h) + cbr(h, cout, act=False)
            self.body = nn.Sequential(*layers)
            self.res = stride == 1 and cin == cout

        def forward(self, x):
            return x + self.body(x) if self.res else self.body(x)

    class MobileNetV2(nn.Module):
        def __init__(self, classes=1000):
            super().__init__()
            layers, cin = cbr(3, 32, 3, 2), 32
            for t, c, n, s in ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                               (6, 160, 3, 2), (6, 320, 1, 1)):
                for i in range(n):
                    layers.append(Inverted(cin, c, s if i == 0 else 1, t))
                    cin = c
            self.features = nn.Sequential(*layers, *cbr(cin, 1280))
            self.fc = nn.Linear(1280, classes)

        def forward(self, x):
            return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(self.features(x), 1), 1))

    return dict(MobileNetV2=MobileNetV2)


def build_models(torch):
    return {**gpt_models(torch), **llama_models(torch), **resnet_models(torch), **bert_models(torch),
            **mobilenet_models(torch)}


def pick(v, default):
    return v if v else default


def make_optimizer(torch, args, params, default="adamw"):
    if (args.opt or default) == "sgd":
        return torch.optim.SGD(params, lr=1e-3, momentum=0.9), "SGD momentum"
    try:
        return torch.optim.AdamW(params, lr=1e-4, fused=True), "AdamW fused"
    except (TypeError, RuntimeError):
        return torch.optim.AdamW(params, lr=1e-4), "AdamW"


class Builtin:
    """What every built-in workload builder shares: the models, the autocast context, the device."""

    def __init__(self, torch, args, device, ddp_wrap):
        self.torch, self.args, self.device, self.ddp_wrap = torch, args, device, ddp_wrap
        self.M = build_models(torch)
        self.amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "none": None}[args.amp]

    def autocast(self):
        if self.amp_dtype is None:
            return self.torch.autocast("cuda", enabled=False)
        return self.torch.autocast("cuda", dtype=self.amp_dtype)

    def inference_llama(self, seq):
        """The Llama model in the autocast dtype, in eval mode (prefill, decode), and its meta."""
        vocab, d, layers, heads, kv, ffn = self.llama_shape()
        dt = self.amp_dtype or self.torch.float32
        model = self.M["Llama"](vocab, d, layers, heads, kv, ffn, seq).to(device=self.device, dtype=dt).eval()
        meta = {"vocab": vocab, "d": d, "layers": layers, "heads": heads, "kv_heads": kv, "ffn": ffn,
                "dtype": self.args.amp}
        return model, dt, meta

    def llama_shape(self):
        a = self.args
        return (pick(a.vocab, 32000), pick(a.d, 2048), pick(a.layers, 8), pick(a.heads, 16), pick(a.kv_heads, 4),
                pick(a.ffn, 5632))


def lm_training_step(b, net, opt, idx, tgt):
    """One training step of a language model: logits, cross entropy, backward, optimizer."""
    F = b.torch.nn.functional

    def step():
        opt.zero_grad(set_to_none=True)
        with b.autocast():
            logits = net(idx)
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), tgt.view(-1))
        loss.backward()
        opt.step()
    return step


def build_mlp(b):
    torch, args, device = b.torch, b.args, b.device
    d, layers, batch = pick(args.d, 4096), pick(args.layers, 6), pick(args.batch, 4096)
    torch.backends.cuda.matmul.allow_tf32 = args.dtype == "tf32"
    torch.backends.cudnn.allow_tf32 = args.dtype == "tf32"
    dt = torch.bfloat16 if args.dtype == "bf16" else torch.float32
    model = b.M["MLP"](d, layers).to(device=device, dtype=dt)
    net = b.ddp_wrap(model)
    opt, opt_name = make_optimizer(torch, args, model.parameters(), default="sgd")
    x = torch.randn(batch, d, device=device, dtype=dt)
    y = torch.randn(batch, d, device=device, dtype=dt)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.mse_loss(net(x), y)
        loss.backward()
        opt.step()

    meta = {"batch": batch, "d": d, "layers": layers, "dtype": args.dtype, "opt": opt_name}
    return dict(step=step, model=model, meta=meta)


def build_gpt(b):
    torch, args, device = b.torch, b.args, b.device
    vocab, d, layers = pick(args.vocab, 50304), pick(args.d, 768), pick(args.layers, 12)
    heads, seq, batch = pick(args.heads, 12), pick(args.seq, 1024), pick(args.batch, 8)
    model = b.M["GPT"](vocab, d, layers, heads, seq).to(device)
    net = b.ddp_wrap(model)
    opt, opt_name = make_optimizer(torch, args, model.parameters())
    idx = torch.randint(0, vocab, (batch, seq), device=device)
    tgt = torch.randint(0, vocab, (batch, seq), device=device)
    meta = {"vocab": vocab, "d": d, "layers": layers, "heads": heads, "seq": seq, "batch": batch,
            "amp": args.amp, "opt": opt_name}
    return dict(step=lm_training_step(b, net, opt, idx, tgt), model=model, meta=meta)


def build_llama(b):
    torch, args, device = b.torch, b.args, b.device
    vocab, d, layers, heads, kv, ffn = b.llama_shape()
    seq, batch = pick(args.seq, 2048), pick(args.batch, 2)
    model = b.M["Llama"](vocab, d, layers, heads, kv, ffn, seq).to(device)
    net = b.ddp_wrap(model)
    opt, opt_name = make_optimizer(torch, args, model.parameters())
    idx = torch.randint(0, vocab, (batch, seq), device=device)
    tgt = torch.randint(0, vocab, (batch, seq), device=device)
    meta = {"vocab": vocab, "d": d, "layers": layers, "heads": heads, "kv_heads": kv, "ffn": ffn, "seq": seq,
            "batch": batch, "amp": args.amp, "opt": opt_name}
    return dict(step=lm_training_step(b, net, opt, idx, tgt), model=model, meta=meta)


def build_prefill(b):
    torch, args, device = b.torch, b.args, b.device
    seq, batch = pick(args.seq, 2048), pick(args.batch, 4)
    model, dt, meta = b.inference_llama(seq)
    vocab = meta["vocab"]
    idx = torch.randint(0, vocab, (batch, seq), device=device)

    def step():
        with torch.inference_mode():
            model(idx)

    meta.update(seq=seq, batch=batch, phase="prefill (inference forward of the prompt)")
    return dict(step=step, model=model, meta=meta)


def build_decode(b):
    torch, args, device = b.torch, b.args, b.device
    ctx, batch = pick(args.seq, 4096), pick(args.batch, 8)
    model, dt, meta = b.inference_llama(ctx)
    vocab, d, layers, heads, kv = (meta[k] for k in ("vocab", "d", "layers", "heads", "kv_heads"))
    hd = d // heads
    caches = [(torch.randn(batch, kv, ctx, hd, device=device, dtype=dt),
               torch.randn(batch, kv, ctx, hd, device=device, dtype=dt)) for _ in range(layers)]
    tok = torch.randint(0, vocab, (batch, 1), device=device)

    def step():
        # One new token per sequence against a KV cache of ctx tokens (cache length fixed so every
        # step is the same work): weight and cache reads dominate, a memory-bound step.
        with torch.inference_mode():
            logits = model(tok, caches=caches, pos=ctx)
            logits.argmax(-1)

    meta.update(kv_cache_len=ctx, batch=batch, phase="decode (one token, KV cache)")
    return dict(step=step, model=model, meta=meta)


def build_resnet50(b, arch="ResNet50"):
    torch, args, device = b.torch, b.args, b.device
    batch = pick(args.batch, 64)
    fmt = torch.channels_last if args.memory_format == "channels_last" else torch.contiguous_format
    model = b.M[arch]().to(device).to(memory_format=fmt)
    net = b.ddp_wrap(model)
    opt, opt_name = make_optimizer(torch, args, model.parameters(), default="sgd")
    x = torch.randn(batch, 3, 224, 224, device=device).to(memory_format=fmt)
    y = torch.randint(0, 1000, (batch,), device=device)

    def step():
        opt.zero_grad(set_to_none=True)
        with b.autocast():
            loss = torch.nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()

    meta = {"arch": arch, "batch": batch, "image": 224, "amp": args.amp, "opt": opt_name,
            "memory_format": args.memory_format}
    return dict(step=step, model=model, meta=meta)


def build_bert(b):
    torch, args, device = b.torch, b.args, b.device
    vocab, d, layers = pick(args.vocab, 30522), pick(args.d, 768), pick(args.layers, 12)
    heads, seq, batch = pick(args.heads, 12), pick(args.seq, 512), pick(args.batch, 16)
    ffn = pick(args.ffn, 4 * d)
    model = b.M["Bert"](vocab, d, layers, heads, ffn, seq).to(device)
    idx = torch.randint(0, vocab, (batch, seq), device=device)
    mask = torch.ones(batch, seq, device=device, dtype=torch.long)
    mask[:, seq - seq // 8:] = 0  # padded tail
    meta = {"vocab": vocab, "d": d, "layers": layers, "heads": heads, "ffn": ffn, "seq": seq, "batch": batch,
            "amp": args.amp, "attention": "unfused (matmul, softmax, dropout)"}
    if args.infer:
        model.eval()

        def infer():
            with torch.no_grad(), b.autocast():
                model(idx, mask)
        meta["phase"] = "inference forward (eval, no_grad)"
        return dict(step=infer, model=model, meta=meta)
    net = b.ddp_wrap(model)
    opt, meta["opt"] = make_optimizer(torch, args, model.parameters())
    tgt = torch.randint(0, vocab, (batch, seq), device=device)
    F = torch.nn.functional

    def step():
        opt.zero_grad(set_to_none=True)
        with b.autocast():
            logits = net(idx, mask)
            loss = F.cross_entropy(logits.view(-1, vocab), tgt.view(-1))
        loss.backward()
        opt.step()
    return dict(step=step, model=model, meta=meta)


BUILDERS = {"mobilenet": lambda b: build_resnet50(b, "MobileNetV2"), "bert": build_bert, "mlp": build_mlp, "gpt": build_gpt, "llama": build_llama, "prefill": build_prefill,
            "decode": build_decode, "resnet50": build_resnet50}


def build_builtin(torch, args, device, ddp_wrap):
    if args.model not in BUILDERS:
        raise SystemExit("capture: unknown model " + args.model)
    return BUILDERS[args.model](Builtin(torch, args, device, ddp_wrap))


def load_user_workload(spec, args, device):
    if ":" not in spec:
        raise SystemExit("capture: --model-module expects FILE.py:FUNCTION, got " + spec)
    path, fn = spec.rsplit(":", 1)
    if not os.path.exists(path):
        raise SystemExit("capture: --model-module: no such file " + path)
    mod_spec = importlib.util.spec_from_file_location("orrery_user_model", path)
    mod = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(mod)
    if not hasattr(mod, fn):
        raise SystemExit("capture: --model-module: %s has no function %s" % (path, fn))
    w = getattr(mod, fn)(args, device)
    if not isinstance(w, dict) or not callable(w.get("step")):
        raise SystemExit("capture: %s must return a dict with a callable 'step' (and optional 'model', 'meta')" % spec)
    return w


# ---------------------------------------------------------------------------------------------------
def summary(values):
    return {"median_ms": statistics.median(values), "min_ms": min(values), "max_ms": max(values),
            "iters": len(values), "all_ms": values}


def gzip_file(src, dst):
    with open(src, "rb") as fi, gzip.open(dst, "wb") as fo:
        shutil.copyfileobj(fi, fo)
    os.remove(src)


def pin_sdpa_backend(name, step):
    """`step` with only one scaled_dot_product_attention backend enabled."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    backend = {"flash": SDPBackend.FLASH_ATTENTION, "efficient": SDPBackend.EFFICIENT_ATTENTION,
               "cudnn": SDPBackend.CUDNN_ATTENTION, "math": SDPBackend.MATH}[name]

    def pinned():
        with sdpa_kernel(backend):
            step()
    return pinned


def timed_steps(torch, args, step):
    """Warm-up, then the timed steps without the profiler: CUDA-event and host-timer ms, peak memory."""
    for _ in range(args.warmup):
        step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    cuda_ms, wall_ms = [], []
    for _ in range(args.steps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        t0 = time.perf_counter()
        start.record()
        step()
        end.record()
        torch.cuda.synchronize()
        wall_ms.append((time.perf_counter() - t0) * 1e3)
        cuda_ms.append(start.elapsed_time(end))
    return cuda_ms, wall_ms, torch.cuda.max_memory_allocated()


def profiled_steps(torch, step, out, sfx):
    """Three steps under the profiler; the third is traced (ET + Kineto, gzip'd). Their wall ms."""
    from torch.profiler import ExecutionTraceObserver, ProfilerActivity, profile, schedule
    et_path = os.path.join(out, "et%s.json" % sfx)
    kineto_path = os.path.join(out, "kineto%s.json" % sfx)
    et = ExecutionTraceObserver()
    et.register_callback(et_path)

    def on_ready(prof):
        prof.export_chrome_trace(kineto_path)

    profiled = []
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA], record_shapes=True,
                 schedule=schedule(wait=0, warmup=2, active=1), on_trace_ready=on_ready,
                 execution_trace_observer=et) as prof:
        for _ in range(3):
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            step()
            torch.cuda.synchronize()
            profiled.append((time.perf_counter() - t0) * 1e3)
            prof.step()
    et.unregister_callback()
    for p in (et_path, kineto_path):
        if not os.path.exists(p):
            raise SystemExit("capture: the profiler did not write " + p)
        gzip_file(p, p + ".gz")
    return profiled


def main(argv=None):
    args = parse_args(argv)
    try:
        import torch
        import torch.profiler  # noqa: F401
    except ImportError as e:
        raise SystemExit("capture: PyTorch with CUDA is required (%s)" % e)
    if not torch.cuda.is_available():
        raise SystemExit("capture: no CUDA device: run this on the GPU machine")

    world, rank = int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    torch.cuda.set_device(local_rank)
    device = torch.device("cuda", local_rank)
    torch.manual_seed(args.seed + rank)
    if args.ddp:
        torch.distributed.init_process_group("nccl")
        world, rank = torch.distributed.get_world_size(), torch.distributed.get_rank()

    def ddp_wrap(model):
        if args.compile:
            model = torch.compile(model, mode=args.compile_mode)
        if not args.ddp:
            return model
        from torch.nn.parallel import DistributedDataParallel as DDP
        return DDP(model, device_ids=[local_rank], bucket_cap_mb=args.bucket_mb)

    if args.model_module:
        w = load_user_workload(args.model_module, args, device)
    else:
        w = build_builtin(torch, args, device, ddp_wrap)
    step = w["step"]
    model = w.get("model")
    meta = dict(w.get("meta") or {})
    if args.sdpa_backend:
        step = pin_sdpa_backend(args.sdpa_backend, step)
        meta["sdpa_backend"] = args.sdpa_backend
    if args.ddp:
        meta["ddp"] = True
        meta["world_size"] = world
        meta["bucket_mb"] = args.bucket_mb
    if args.compile:
        meta["compiled"] = True
        meta["compile_mode"] = args.compile_mode

    out = args.out
    os.makedirs(out, exist_ok=True)
    sfx = "" if world == 1 else ".%d" % rank

    cuda_ms, wall_ms, max_mem = timed_steps(torch, args, step)
    # The host that ran these steps, before the profiler: after it, CUPTI's and the observers'
    # callbacks stay installed and slow every call (tables measured after profiling came out
    # 1.3-2.2x slower than ones from a fresh process on the same machine).
    host_table = None
    if not args.no_host_table and rank == 0:
        import sys
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import host_micro
        host_table = host_micro.host_table(torch)
    profiled = profiled_steps(torch, step, out, sfx)

    if rank == 0:
        params = sum(p.numel() for p in model.parameters()) if model is not None else None
        measured = {
            "name": args.name or os.path.basename(os.path.normpath(out)),
            "meta": meta,
            "params": params,
            "max_mem_allocated": max_mem,
            "step_cuda_events": summary(cuda_ms),
            "step_wall": summary(wall_ms),
            "profiled_steps_wall_ms": profiled,
            "files": sorted(f for f in os.listdir(out) if f.endswith(".json.gz")),
        }
        with open(os.path.join(out, "measured.json"), "w") as f:
            json.dump(measured, f, indent=1)
        if host_table is not None:
            with open(os.path.join(out, "host_dispatch.json"), "w") as f:
                json.dump({"about": "host_dispatch measured by validation/capture/host_micro.py on the capture machine, "
                                    "in the capture's process after the timed steps, before the profiler",
                           "host_dispatch": host_table}, f, indent=1)
        print("capture: wrote %s (median step %.2f ms, traced step %.2f ms under the profiler)"
              % (out, measured["step_cuda_events"]["median_ms"], profiled[-1]))
    if args.ddp:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
