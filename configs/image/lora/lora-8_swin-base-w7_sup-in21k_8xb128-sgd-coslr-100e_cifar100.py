# LoRA-8 on Swin-B: rank 8, alpha 8 on the attention projections of all
# 24 blocks (qkv: d -> 3d, proj: d -> d, d the stage's width), A (8 x in)
# and B (out x 8) per layer, 8 x 4d + 8 x 2d = 48 d per block:
# 48 x (2 x 128 + 2 x 256 + 18 x 512 + 2 x 1024) = 577,536 parameters
# + the BN + Linear head. The backbone's merge_lora() folds it into the
# frozen weights for inference.
# CIFAR-100 from supervised ImageNet-21k Swin-B.
# Paper: no number (LoRA is not in the AdaptFormer / VPT tables).
_base_ = [
    '../_base_/models/swin-base-w7_sup-in21k.py',
    '../_base_/datasets/cifar100.py',
    '../_base_/schedules/sgd_linear-warmup_cosine_100e.py',
    '../_base_/peft_runtime.py',
]

model = dict(
    backbone=dict(
        type='LoRASwin',
        lora_cfg=dict(rank=8, alpha=8, targets=['qkv', 'proj'])),
    head=dict(num_classes=100),
    data_preprocessor=_base_.data_preprocessor)
