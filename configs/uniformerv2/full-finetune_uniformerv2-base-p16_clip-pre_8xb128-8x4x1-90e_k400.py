# Full fine-tuning of UniFormerV2-B/16 (CLIP) on Kinetics-400: every parameter
# trains (114,244,608 in the backbone), under the same SGD recipe as the PEFT
# methods. mmaction2's own run (AdamW 1e-5, 55 epochs, uniformly sampled
# frames, RandAugment; its metafile) reached 84.3 top-1 on Kinetics-400.
# Paper: no number (no CLIP backbone in the AdaptFormer / VPT tables).
_base_ = [
    './_base_/uniformerv2-base-p16_clip-pre_8x4x1.py',
    '../_base_/datasets/kinetics400_video.py',
    '../_base_/schedules/sgd-bf16_linear-warmup_cosine_90e.py',
    '../_base_/default_runtime.py',
]

model = dict(
    backbone=dict(type='TunableUniFormerV2', tuning='full'),
    cls_head=dict(num_classes=400))
