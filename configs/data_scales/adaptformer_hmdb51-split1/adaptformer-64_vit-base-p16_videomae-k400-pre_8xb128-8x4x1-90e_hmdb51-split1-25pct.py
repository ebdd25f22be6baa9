# Data scale: AdaptFormer-64 on a class-balanced 25% of HMDB51 split 1's
# training list (17 of the 70 clips of every class: 867 clips), the rest of
# the recipe as the full-data config
# (adaptformer_mm/datasets/balanced_subset.py).
# Full data (AdaptFormer, Table 1): 55.69 top-1. Validation and test use the
# whole test list. Another draw: --cfg-options train_dataloader.dataset.seed=1;
# a disjoint one: train_dataloader.dataset.fold=1 (4 folds at 25%).
_base_ = ['./adaptformer-64_vit-base-p16_videomae-k400-pre'
          '_8xb128-8x4x1-90e_hmdb51-split1-100pct.py']

# The last batch is kept (drop_last=False, the full-data recipe drops it):
# 867 clips are under one step of 8 x 128, so dropping it would leave
# no step at all.
train_dataloader = dict(drop_last=False, dataset=dict(fraction=0.25))
