# examples/bundles/llama_s as a script: Llama style (RMSNorm, interleaved RoPE, SwiGLU ffn 5632,
# GQA 16 heads / 4 kv heads), d=2048, 8 layers, seq 2048, vocab 32000, batch 2, bf16 autocast,
# fused AdamW (shared/fixtures/README.md).
import torch
import torch.nn as nn
import torch.nn.functional as F

D, LAYERS, HEADS, KV, FFN, SEQ, VOCAB, BATCH = 2048, 8, 16, 4, 5632, 2048, 32000, 2
HD = D // HEADS


class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-5):
        super().__init__()
        self.eps, self.weight = eps, nn.Parameter(torch.ones(d))

    def forward(self, x):
        xf = x.float()
        r = torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return xf * r.float() * self.weight


def rope(x, cos, sin):
    x1, x2 = x[..., 0::2], x[..., 1::2]
    return torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1).flatten(-2)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.n1, self.n2 = RMSNorm(D), RMSNorm(D)
        self.wq, self.wkv = nn.Linear(D, D, bias=False), nn.Linear(D, 2 * KV * HD, bias=False)
        self.wo = nn.Linear(D, D, bias=False)
        self.w13, self.w2 = nn.Linear(D, 2 * FFN, bias=False), nn.Linear(FFN, D, bias=False)

    def forward(self, x, cos, sin):
        B, T, _ = x.shape
        h = self.n1(x)
        q = self.wq(h).view(B, T, HEADS, HD).transpose(1, 2)
        k, v = self.wkv(h).view(B, T, 2, KV, HD).permute(2, 0, 3, 1, 4).unbind(0)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
        x = x + self.wo(y.transpose(1, 2).reshape(B, T, D))
        a, b = self.w13(self.n2(x)).chunk(2, dim=-1)
        return x + self.w2(F.silu(a) * b)


class Llama(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, D)
        self.blocks = nn.ModuleList([Block() for _ in range(LAYERS)])
        self.norm = RMSNorm(D)
        self.head = nn.Linear(D, VOCAB, bias=False)
        inv = 1.0 / (10000 ** (torch.arange(0, HD, 2).float() / HD))
        ang = torch.outer(torch.arange(SEQ).float(), inv)
        self.register_buffer("cos", ang.cos(), persistent=False)
        self.register_buffer("sin", ang.sin(), persistent=False)

    def forward(self, idx, targets):
        x = self.emb(idx)
        for blk in self.blocks:
            x = blk(x, self.cos, self.sin)
        logits = self.head(self.norm(x))
        return F.cross_entropy(logits.view(-1, VOCAB).float(), targets.view(-1))


model = Llama().to("cuda")
opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
x = torch.randint(0, VOCAB, (BATCH, SEQ), device="cuda")
y = torch.randint(0, VOCAB, (BATCH, SEQ), device="cuda")
for step in range(5):
    with torch.autocast("cuda", dtype=torch.bfloat16):
        loss = model(x, y)
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    print(f"step {step} loss {loss.item():.4f}")
