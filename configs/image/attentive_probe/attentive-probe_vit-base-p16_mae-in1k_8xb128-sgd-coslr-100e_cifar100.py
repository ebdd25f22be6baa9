# Attentive probe: one learned query cross-attends to the frozen tokens
# ([CLS, patches] after ln1; the backbone's 12 heads, 1,774,080 parameters)
# in place of the CLS readout, + the BN + Linear head.
# CIFAR-100 from MAE ViT-B/16 (self-supervised, ImageNet-1k).
# Paper: no number (the AdaptFormer paper's Table 1 does not list it).
_base_ = [
    '../_base_/models/vit-base-p16_mae-in1k.py',
    '../_base_/datasets/cifar100.py',
    '../_base_/schedules/sgd_linear-warmup_cosine_100e.py',
    '../_base_/peft_runtime.py',
]

model = dict(
    backbone=dict(type='AttentiveProbeViT'),
    head=dict(num_classes=100),
    data_preprocessor=_base_.data_preprocessor)
