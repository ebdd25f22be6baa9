# AdaptFormer on Swin-B: a parallel AdaptMLP (s=0.1, adapter dropout 0.1)
# beside the MLP of all 24 blocks, bottleneck width // 12 per stage
# (10/21/42/85, the authors' advice for Swin in AdaptFormer issue #4):
# 1,161,948 adapter parameters + head.
# Food-101 from supervised ImageNet-21k Swin-B.
# Paper: no number; the AdaptFormer paper reports ViT only.
_base_ = [
    '../_base_/models/swin-base-w7_sup-in21k.py',
    '../_base_/datasets/food101.py',
    '../_base_/schedules/sgd_linear-warmup_cosine_100e.py',
    '../_base_/peft_runtime.py',
]

model = dict(
    backbone=dict(type='AdaptFormerSwin', adapter_cfg=dict(bottleneck=None)),
    head=dict(num_classes=101),
    data_preprocessor=_base_.data_preprocessor)
