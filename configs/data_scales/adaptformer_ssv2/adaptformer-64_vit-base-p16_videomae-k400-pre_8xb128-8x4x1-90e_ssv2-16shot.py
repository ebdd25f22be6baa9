# Data scale: AdaptFormer-64 on 16 clips of every class of the SSv2 training
# list (2,784 clips), the rest of the recipe as the full-data config
# (adaptformer_mm/datasets/balanced_subset.py).
# Full data (AdaptFormer, Table 1): 59.02 top-1. Validation and test use the
# whole validation list. Another draw: --cfg-options
# train_dataloader.dataset.seed=1;
# a disjoint one: train_dataloader.dataset.fold=1 (the log names the number
# of folds: the smallest class's clips // 16).
_base_ = ['./adaptformer-64_vit-base-p16_videomae-k400-pre'
          '_8xb128-8x4x1-90e_ssv2-100pct.py']

train_dataloader = dict(dataset=dict(fraction=None, shots=16))
