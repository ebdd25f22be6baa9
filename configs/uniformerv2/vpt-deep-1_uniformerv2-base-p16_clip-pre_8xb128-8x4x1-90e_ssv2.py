# VPT-deep, 1 token per CLIP block, on UniFormerV2-B/16 (CLIP),
# Something-Something v2: 12 x 1 prompt per frame (9,216 parameters; kept out
# of the local MHRA grid and of what the UniBlocks read) + the UniBlocks and
# fusion (28,446,720) = 28,455,936 parameters + head. The prompts alone:
# train_uniblocks=False.
# Paper: no number (no CLIP backbone in the AdaptFormer / VPT tables).
_base_ = [
    './_base_/uniformerv2-base-p16_clip-pre_8x4x1.py',
    '../_base_/datasets/ssv2_video.py',
    '../_base_/schedules/sgd-bf16_linear-warmup_cosine_90e.py',
    '../_base_/peft_runtime.py',
]

model = dict(
    backbone=dict(
        type='VPTUniFormerV2', prompt_cfg=dict(num_tokens=1, deep=True)),
    cls_head=dict(num_classes=174))
