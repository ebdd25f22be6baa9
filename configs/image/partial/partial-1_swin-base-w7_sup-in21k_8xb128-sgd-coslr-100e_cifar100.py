# Partial-1 (the VPT paper's baseline) on Swin-B: the last block (stage 3,
# d = 1024, 32 heads; norms 4d, qkv 3d^2 + 3d, proj d^2 + d, MLP 8d^2 + 5d,
# a 169 x 32 relative-position table: 12 d^2 + 13 d + 5,408 = 12,601,632)
# and the output norm norm3 (2d) train: 12,601,632 + 2,048 = 12,603,680
# parameters, with the BN + Linear head; blocks 0-22 stay frozen.
# CIFAR-100 from supervised ImageNet-21k Swin-B.
# Paper: no number; VPT's Swin-B baselines are on VTAB-1k.
_base_ = [
    '../_base_/models/swin-base-w7_sup-in21k.py',
    '../_base_/datasets/cifar100.py',
    '../_base_/schedules/sgd_linear-warmup_cosine_100e.py',
    '../_base_/peft_runtime.py',
]

model = dict(
    backbone=dict(type='PartialSwin', partial_cfg=dict(num_blocks=1)),
    head=dict(num_classes=100),
    data_preprocessor=_base_.data_preprocessor)
