# AdaptFormer-64 on UniFormerV2-B/16 (CLIP), Kinetics-400: an AdaptMLP (r=64,
# s=0.1, parallel, reading each CLIP block's stream after attention) in all 12
# CLIP blocks (1,189,632 parameters) + the UniBlocks and fusion UniFormerV2
# adds to CLIP (28,446,720) = 29,636,352 parameters + head. The adapters alone:
# train_uniblocks=False.
# Paper: no number (no CLIP backbone in the AdaptFormer / VPT tables).
_base_ = [
    './_base_/uniformerv2-base-p16_clip-pre_8x4x1.py',
    '../_base_/datasets/kinetics400_video.py',
    '../_base_/schedules/sgd-bf16_linear-warmup_cosine_90e.py',
    '../_base_/peft_runtime.py',
]

model = dict(
    backbone=dict(
        type='AdaptFormerUniFormerV2',
        adapter_cfg=dict(bottleneck=64, scale=0.1, mode='parallel')),
    cls_head=dict(num_classes=400))
