# LoRA-8 on UniFormerV2-B/16 (CLIP), Kinetics-400: rank 8, alpha 8 on the
# attention's in-projection (nn.MultiheadAttention.in_proj_weight) and out_proj
# of all 12 CLIP blocks (442,368 parameters) + the UniBlocks and fusion
# (28,446,720) = 28,889,088 parameters + head. The backbone's merge_lora()
# folds it into the frozen weights for inference.
# Paper: no number (no CLIP backbone in the AdaptFormer / VPT tables).
_base_ = [
    './_base_/uniformerv2-base-p16_clip-pre_8x4x1.py',
    '../_base_/datasets/kinetics400_video.py',
    '../_base_/schedules/sgd-bf16_linear-warmup_cosine_90e.py',
    '../_base_/peft_runtime.py',
]

model = dict(
    backbone=dict(
        type='LoRAUniFormerV2',
        lora_cfg=dict(rank=8, alpha=8, targets=['in_proj', 'out_proj'])),
    cls_head=dict(num_classes=400))
