# Bias tuning (BitFit, the VPT paper's "Bias" baseline) on Swin-B: every
# bias of the backbone and the BN + Linear head train; per block 11 d (norm1
# d, qkv 3d, proj d, norm2 d, fc1 4d, fc2 d), the patch embedding's conv and
# norm (2 x 128), the patch-merging norms (4 x (128 + 256 + 512)) and norm3
# (1024): 11 x (2 x 128 + 2 x 256 + 18 x 512 + 2 x 1024) + 256 + 3,584
# + 1,024 = 137,216 parameters (the relative-position tables stay frozen).
# CIFAR-100 from supervised ImageNet-21k Swin-B.
# Paper: no number; VPT's Swin-B baselines are on VTAB-1k.
_base_ = [
    '../_base_/models/swin-base-w7_sup-in21k.py',
    '../_base_/datasets/cifar100.py',
    '../_base_/schedules/sgd_linear-warmup_cosine_100e.py',
    '../_base_/peft_runtime.py',
]

model = dict(
    backbone=dict(type='BitFitSwin', bitfit_cfg=dict(norm_bias=True)),
    head=dict(num_classes=100),
    data_preprocessor=_base_.data_preprocessor)
