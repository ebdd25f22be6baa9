# LoRA-8 on HMDB51 split 1.
# Rank 8, alpha 8 on the attention projections (qkv, proj) of all 12 blocks
# (442,368 parameters) + fc_norm + head. The backbone's merge_lora() folds
# it into the frozen weights for inference.
# Paper: no number (LoRA is not in the AdaptFormer / VPT tables).
_base_ = [
    '../_base_/models/videomae_vit-base-p16_k400-pre_8x4x1.py',
    '../_base_/datasets/hmdb51-split1_video.py',
    '../_base_/schedules/sgd-bf16_linear-warmup_cosine_90e.py',
    '../_base_/peft_runtime.py',
]

model = dict(
    backbone=dict(
        type='LoRAVideoViT',
        lora_cfg=dict(rank=8, alpha=8, targets=['qkv', 'proj'])),
    cls_head=dict(num_classes=51))
