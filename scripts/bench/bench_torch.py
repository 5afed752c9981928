"""PyTorch CPU reference for scripts/bench/bench.ts: the same network and training step.

Network (src/model/model.ts): t -> sinusoidal(32) -> Linear(32) -> SiLU -> Linear(32); h = concat(x, emb)
-> BatchNorm -> Linear(128) -> GELU(tanh) -> Dropout(0.1); 3 x {h += Dropout(GELU(Linear(BN(h))))};
BatchNorm -> Linear(1). BatchNorm momentum 0.01 in PyTorch terms (Flax's 0.99), eps 1e-5.
Step: fresh mixture batch, uniform t, v-prediction MSE, clip_grad_norm_(1.0), AdamW(wd 1e-4).
Prints one JSON object on stdout. Run with OPENBLAS_NUM_THREADS=1: otherwise OpenBLAS's and
PyTorch's thread pools fight over the 2 cores (measured here: both pools busy, slower steps).
"""
import argparse
import json
import math
import os
import time

import torch
from torch import nn


def sinusoidal_table(n, dim=32):
    half = dim // 2
    freqs = torch.exp(-torch.arange(half, dtype=torch.float64) * math.log(1e4) / (half - 1))
    arg = torch.arange(n, dtype=torch.float64)[:, None] * freqs[None, :]
    return torch.cat([torch.sin(arg), torch.cos(arg)], dim=1).float()


class Velocity(nn.Module):
    def __init__(self, width=128, depth=3, dropout=0.1, e=32, n=1000):
        super().__init__()
        self.register_buffer("table", sinusoidal_table(n, e))
        self.time = nn.Sequential(nn.Linear(e, e), nn.SiLU(), nn.Linear(e, e))
        bn = lambda f: nn.BatchNorm1d(f, momentum=0.01, eps=1e-5)
        self.bn_in, self.dense_in = bn(1 + e), nn.Linear(1 + e, width)
        self.bns = nn.ModuleList([bn(width) for _ in range(depth)])
        self.denses = nn.ModuleList([nn.Linear(width, width) for _ in range(depth)])
        self.bn_out, self.dense_out = bn(width), nn.Linear(width, 1)
        self.drop = nn.Dropout(dropout)
        self.gelu = nn.GELU(approximate="tanh")

    def forward(self, x, t):
        h = torch.cat([x, self.time(self.table[t])], dim=1)
        h = self.drop(self.gelu(self.dense_in(self.bn_in(h))))
        for bn, d in zip(self.bns, self.denses):
            h = h + self.drop(self.gelu(d(bn(h))))
        return self.dense_out(self.bn_out(h))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", default="1024,4096,16384")
    ap.add_argument("--seconds", type=float, default=3.0, help="minimum timed seconds per batch size")
    ap.add_argument("--min-steps", type=int, default=5)
    ap.add_argument("--infer-rows", type=int, default=10000)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    betas = torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64)
    abar = torch.cumprod(1 - betas, 0)
    sa, ss = abar.sqrt().float(), (1 - abar).sqrt().float()
    weights = torch.tensor([0.3, 0.1, 0.6])
    means = torch.tensor([-5.0, 0.0, 6.0])
    stds = torch.tensor([1.0, 0.5, 2.0])
    out = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "train": [],
    }
    model = Velocity()
    out["parameters"] = sum(p.numel() for p in model.parameters())
    for B in [int(b) for b in args.batches.split(",") if b]:
        model = Velocity()
        opt = torch.optim.AdamW(model.parameters(), lr=3e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-4)
        model.train()

        def step():
            k = torch.multinomial(weights, B, replacement=True)
            x0 = (means[k] + stds[k] * torch.randn(B))[:, None]
            noise = torch.randn(B, 1)
            t = torch.randint(0, 1000, (B,))
            a, s = sa[t][:, None], ss[t][:, None]
            xt, v = a * x0 + s * noise, a * noise - s * x0
            loss = ((model(xt, t) - v) ** 2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            return loss

        for _ in range(3):
            step()
        n, start = 0, time.perf_counter()
        while n < args.min_steps or time.perf_counter() - start < args.seconds:
            step()
            n += 1
        sec = (time.perf_counter() - start) / n
        out["train"].append({"batch": B, "steps": n, "ms_per_step": sec * 1e3, "samples_per_s": B / sec})
    model.eval()
    x = torch.randn(args.infer_rows, 1)
    t = torch.full((args.infer_rows,), 500, dtype=torch.long)
    with torch.no_grad():
        for _ in range(3):
            model(x, t)
        n, start = 0, time.perf_counter()
        while n < 5 or time.perf_counter() - start < 1.0:
            model(x, t)
            n += 1
    sec = (time.perf_counter() - start) / n
    out["infer"] = {"rows": args.infer_rows, "ms": sec * 1e3, "rows_per_s": args.infer_rows / sec}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
