# LoRA-8 on Video Swin-B, Something-Something v2.
# Rank 8, alpha 8 on the attention projections of all 24 blocks (qkv:
# d -> 3d, proj: d -> d, d the stage's width): A (8 x in) and B (out x 8)
# per layer, 8 x 4d + 8 x 2d = 48 d per block:
# 48 x (2 x 128 + 2 x 256 + 18 x 512 + 2 x 1024) = 577,536 parameters
# + head. The backbone's merge_lora() folds it into the frozen weights for
# inference.
# Paper: no number (LoRA is not in the AdaptFormer / VPT tables).
_base_ = [
    '../_base_/models/video-swin-base-p244-w877_in1k-k400-pre_8x4x1.py',
    '../_base_/datasets/ssv2_video.py',
    '../_base_/schedules/sgd-bf16_linear-warmup_cosine_90e.py',
    '../_base_/peft_runtime.py',
]

model = dict(
    backbone=dict(
        type='LoRAVideoSwin',
        lora_cfg=dict(rank=8, alpha=8, targets=['qkv', 'proj'])),
    cls_head=dict(num_classes=174))
