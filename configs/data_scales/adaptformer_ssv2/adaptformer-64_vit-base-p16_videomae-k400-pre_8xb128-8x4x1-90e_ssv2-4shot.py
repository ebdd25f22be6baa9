# Data scale: AdaptFormer-64 on 4 clips of every class of the SSv2 training
# list (696 clips), the rest of the recipe as the full-data config
# (adaptformer_mm/datasets/balanced_subset.py). Fewer clips than the 1,024 of
# a step: an epoch is one step over all of them.
# Full data (AdaptFormer, Table 1): 59.02 top-1. Validation and test use the
# whole validation list. Another draw: --cfg-options
# train_dataloader.dataset.seed=1;
# a disjoint one: train_dataloader.dataset.fold=1 (the log names the number
# of folds: the smallest class's clips // 4).
_base_ = ['./adaptformer-64_vit-base-p16_videomae-k400-pre'
          '_8xb128-8x4x1-90e_ssv2-100pct.py']

# The last batch is kept (drop_last=False, the full-data recipe drops it):
# 696 clips are under one step of 8 x 128, so dropping it would leave
# no step at all.
train_dataloader = dict(drop_last=False, dataset=dict(fraction=None, shots=4))
