# Bias tuning (BitFit, the VPT paper's "Bias" baseline): every bias of the
# backbone (102,912 parameters) and the BN + Linear head train.
# CIFAR-100 from MAE ViT-B/16 (self-supervised, ImageNet-1k).
# Paper: no number (the AdaptFormer paper's Table 1 does not list it).
_base_ = [
    '../_base_/models/vit-base-p16_mae-in1k.py',
    '../_base_/datasets/cifar100.py',
    '../_base_/schedules/sgd_linear-warmup_cosine_100e.py',
    '../_base_/peft_runtime.py',
]

model = dict(
    backbone=dict(type='BitFitViT', bitfit_cfg=dict(norm_bias=True)),
    head=dict(num_classes=100),
    data_preprocessor=_base_.data_preprocessor)
