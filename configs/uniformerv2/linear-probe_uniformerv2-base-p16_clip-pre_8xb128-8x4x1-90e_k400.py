# Linear probing of UniFormerV2-B/16 (CLIP) on Kinetics-400: CLIP and the
# UniBlocks frozen (train_uniblocks=False: from CLIP their output projections
# stay at zero, so the feature is the norm of the frames' mean CLS token); the
# fused feature's norm (1,536 parameters, as the video recipe trains fc_norm)
# and the head train.
# Paper: no number (no CLIP backbone in the AdaptFormer / VPT tables).
_base_ = [
    './_base_/uniformerv2-base-p16_clip-pre_8x4x1.py',
    '../_base_/datasets/kinetics400_video.py',
    '../_base_/schedules/sgd-bf16_linear-warmup_cosine_90e.py',
    '../_base_/peft_runtime.py',
]

model = dict(
    backbone=dict(
        type='TunableUniFormerV2', train_uniblocks=False,
        train_final_norm=True),
    cls_head=dict(num_classes=400))
