# VPT-deep, 1 prompt token per block (9,216 prompt parameters; with the head
# this matches the 0.08M of the paper's VPT row).
# Food-101 from MAE ViT-B/16 (self-supervised, ImageNet-1k).
# Paper (AdaptFormer Table 1, this backbone): 82.98 top-1.
_base_ = [
    '../_base_/models/vit-base-p16_mae-in1k.py',
    '../_base_/datasets/food101.py',
    '../_base_/schedules/sgd_linear-warmup_cosine_100e.py',
    '../_base_/peft_runtime.py',
]

model = dict(
    backbone=dict(type='VPTViT', prompt_cfg=dict(num_tokens=1, deep=True)),
    head=dict(num_classes=101),
    data_preprocessor=_base_.data_preprocessor)
