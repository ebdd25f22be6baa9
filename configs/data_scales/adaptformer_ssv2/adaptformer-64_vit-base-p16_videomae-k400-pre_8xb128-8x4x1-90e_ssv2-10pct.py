# Data scale: AdaptFormer-64 on a class-balanced 10% of the SSv2 training
# list (floor(0.1 n) of the n clips of every class, at least one: about 16,800
# of 168,913), the rest of the recipe as the full-data config
# (adaptformer_mm/datasets/balanced_subset.py).
# Full data (AdaptFormer, Table 1): 59.02 top-1. Validation and test use the
# whole validation list. Another draw: --cfg-options
# train_dataloader.dataset.seed=1;
# a disjoint one: train_dataloader.dataset.fold=1 (10 folds at 10%).
_base_ = ['./adaptformer-64_vit-base-p16_videomae-k400-pre'
          '_8xb128-8x4x1-90e_ssv2-100pct.py']

train_dataloader = dict(dataset=dict(fraction=0.1))
