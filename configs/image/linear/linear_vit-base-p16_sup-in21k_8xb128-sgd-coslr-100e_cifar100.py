# Linear probing: frozen backbone, the BN + Linear head trains.
# CIFAR-100 from supervised ImageNet-21k ViT-B/16.
# Paper: no number; Table 1 of the AdaptFormer paper uses the MAE backbone
# only.
_base_ = [
    '../_base_/models/vit-base-p16_sup-in21k.py',
    '../_base_/datasets/cifar100.py',
    '../_base_/schedules/sgd_linear-warmup_cosine_100e.py',
    '../_base_/peft_runtime.py',
]

model = dict(
    head=dict(num_classes=100),
    data_preprocessor=_base_.data_preprocessor)
