"""Why the lexicon features do not help: their accuracy alone on training rows vs held-out rows."""
import sys, json, numpy as np
sys.path.insert(0, '.gpu')
import svm_cv as S
from lexkeys import distinct_keys, bucket, ngrams
from pathlib import Path
H = Path('.gpu')
texts = json.loads((H / 'svm/texts.json').read_text(encoding='utf-8'))
tx = np.load(H / 'svm/folds.npz'); y = tx['y'].astype(int); split = tx['split']
n = len(texts); S.G['y'] = y; S.G['n_texts'] = n
keys = np.load(H / 'svm/keys.npz')['keys']; sort = np.argsort(keys); skeys = keys[sort]
pr, pl, po, ar, ab, ao = [], [], [], [], [], []
for o in (1, 2, 3, 4):
    r, k = distinct_keys(texts, o)
    ar.append(r); ab.append(bucket(k)); ao.append(np.full(len(r), o, np.int8))
    pos = np.minimum(np.searchsorted(skeys, k), len(skeys) - 1); hit = skeys[pos] == k
    pr.append(r[hit]); pl.append(sort[pos[hit]]); po.append(np.full(int(hit.sum()), o))
S.G['pair_rows'], S.G['pair_lex'], S.G['pair_order'] = map(np.concatenate, (pr, pl, po))
S.G['all_rows'], S.G['all_bucket'], S.G['all_order'] = map(np.concatenate, (ar, ab, ao))
S.G['lex_bucket'] = bucket(keys)
S.G['lex'] = {k: np.load(H / f'svm/teacher_{k}.npz')['lex'] for k in ('0','1','2','3','4','full')}
out = {}
for k in ('0','1','2','3','4'):
    fr, held = tx[f'train_rows_{k}'], tx[f'held_{k}']
    f = S.lexicon_features(k, fr)['exact8']
    csc_fit = fr[fr < 9600]
    row = {}
    for o in range(4):
        row[f'order{o+1}'] = (round(float(np.mean((f[csc_fit, o] > 0) == y[csc_fit])), 4),
                              round(float(np.mean((f[held, o] > 0) == y[held])), 4))
    out[k] = row
    print(k, row, flush=True)
t = np.load(H / 'svm/teacher_full.npz')
print('lexicon logit spread (full teacher): mean %.2f sd %.2f, |logit|>4: %.3f' % (
    t['lex'].astype(float).mean(), t['lex'].astype(float).std(), np.mean(np.abs(t['lex'].astype(float)) > 4)))
