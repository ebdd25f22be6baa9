# Partial-1 (the VPT paper's baseline): the last block (7,087,872 parameters)
# and the final norm ln1 train, with the BN + Linear head.
# CIFAR-100 from MAE ViT-B/16 (self-supervised, ImageNet-1k).
# Paper: no number (the AdaptFormer paper's Table 1 does not list it).
_base_ = [
    '../_base_/models/vit-base-p16_mae-in1k.py',
    '../_base_/datasets/cifar100.py',
    '../_base_/schedules/sgd_linear-warmup_cosine_100e.py',
    '../_base_/peft_runtime.py',
]

model = dict(
    backbone=dict(type='PartialViT', partial_cfg=dict(num_blocks=1)),
    head=dict(num_classes=100),
    data_preprocessor=_base_.data_preprocessor)
