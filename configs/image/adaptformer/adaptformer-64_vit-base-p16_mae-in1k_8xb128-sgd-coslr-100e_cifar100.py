# AdaptFormer-64: parallel AdaptMLP r=64, s=0.1, adapter dropout 0.1 in
# every block (1,189,632 adapter parameters) + head.
# CIFAR-100 from MAE ViT-B/16 (self-supervised, ImageNet-1k).
# Paper (AdaptFormer Table 1, this backbone): 85.90 top-1.
_base_ = [
    '../_base_/models/vit-base-p16_mae-in1k.py',
    '../_base_/datasets/cifar100.py',
    '../_base_/schedules/sgd_linear-warmup_cosine_100e.py',
    '../_base_/peft_runtime.py',
]

model = dict(
    backbone=dict(type='AdaptFormerViT', adapter_cfg=dict(bottleneck=64)),
    head=dict(num_classes=100),
    data_preprocessor=_base_.data_preprocessor)
