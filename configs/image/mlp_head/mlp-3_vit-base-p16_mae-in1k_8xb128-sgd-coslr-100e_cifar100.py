# MLP-3 head (the VPT paper's baseline): frozen backbone; the BatchNorm neck
# then a 3-layer MLP (Linear-ReLU-Linear-ReLU-Linear, width 768) train.
# CIFAR-100 from MAE ViT-B/16 (self-supervised, ImageNet-1k).
# Paper: no number (the AdaptFormer paper's Table 1 does not list it).
_base_ = [
    '../_base_/models/vit-base-p16_mae-in1k.py',
    '../_base_/datasets/cifar100.py',
    '../_base_/schedules/sgd_linear-warmup_cosine_100e.py',
    '../_base_/peft_runtime.py',
]

model = dict(
    head=dict(
        _delete_=True,
        type='MLPClsHead',
        num_classes=100,
        in_channels=768,
        mlp_cfg=dict(num_layers=3)),
    data_preprocessor=_base_.data_preprocessor)
