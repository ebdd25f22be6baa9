# Full fine-tuning: every parameter trains.
# Food-101 from MAE ViT-B/16 (self-supervised, ImageNet-1k).
# Paper (AdaptFormer Table 1, this backbone): 90.09 top-1.
_base_ = [
    '../_base_/models/vit-base-p16_mae-in1k.py',
    '../_base_/datasets/food101.py',
    '../_base_/schedules/sgd_linear-warmup_cosine_100e.py',
    '../_base_/default_runtime.py',
]

model = dict(
    backbone=dict(tuning='full'),
    head=dict(num_classes=101),
    data_preprocessor=_base_.data_preprocessor)
