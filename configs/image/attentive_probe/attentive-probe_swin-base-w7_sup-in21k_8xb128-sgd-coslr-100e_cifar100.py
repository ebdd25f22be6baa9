# Attentive probe on Swin-B: one learned query cross-attends to the last
# stage's tokens after the frozen norm3 (d = 1024, the stage's 32 heads):
# query d + LayerNorm 2d + key/value 2d^2 + 2d + output projection d^2 + d
# = 3 d^2 + 6 d = 3,151,872 parameters, + the BN + Linear head. The feature
# is a (B, 1024, 1, 1) map, which the GlobalAveragePooling neck passes
# through.
# CIFAR-100 from supervised ImageNet-21k Swin-B.
# Paper: no number (not in the AdaptFormer / VPT tables).
_base_ = [
    '../_base_/models/swin-base-w7_sup-in21k.py',
    '../_base_/datasets/cifar100.py',
    '../_base_/schedules/sgd_linear-warmup_cosine_100e.py',
    '../_base_/peft_runtime.py',
]

model = dict(
    backbone=dict(type='AttentiveProbeSwin'),
    head=dict(num_classes=100),
    data_preprocessor=_base_.data_preprocessor)
