# VPT-deep, 1 prompt token per block (9,216 prompt parameters; with the head
# this matches the 0.08M of the paper's VPT row).
# Food-101 from supervised ImageNet-21k ViT-B/16.
# Paper: no number; Table 1 of the AdaptFormer paper uses the MAE backbone
# only.
_base_ = [
    '../_base_/models/vit-base-p16_sup-in21k.py',
    '../_base_/datasets/food101.py',
    '../_base_/schedules/sgd_linear-warmup_cosine_100e.py',
    '../_base_/peft_runtime.py',
]

model = dict(
    backbone=dict(type='VPTViT', prompt_cfg=dict(num_tokens=1, deep=True)),
    head=dict(num_classes=101),
    data_preprocessor=_base_.data_preprocessor)
