# LoRA-8: rank 8, alpha 8 on the attention projections (qkv, proj) of all 12
# blocks (442,368 parameters) + the BN + Linear head. The backbone's
# merge_lora() folds it into the frozen weights for inference.
# CIFAR-100 from supervised ImageNet-21k ViT-B/16 (VPT's backbone).
# Paper: no number (the AdaptFormer paper's Table 1 does not list it).
_base_ = [
    '../_base_/models/vit-base-p16_sup-in21k.py',
    '../_base_/datasets/cifar100.py',
    '../_base_/schedules/sgd_linear-warmup_cosine_100e.py',
    '../_base_/peft_runtime.py',
]

model = dict(
    backbone=dict(
        type='LoRAViT',
        lora_cfg=dict(rank=8, alpha=8, targets=['qkv', 'proj'])),
    head=dict(num_classes=100),
    data_preprocessor=_base_.data_preprocessor)
