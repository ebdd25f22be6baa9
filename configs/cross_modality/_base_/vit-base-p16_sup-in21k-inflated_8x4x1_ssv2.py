# The paper's cross-modality setting: an image ViT-B/16 trained with labels on
# ImageNet-21k, inflated to mmaction2's VideoMAE ViT, adapted to
# Something-Something v2 with the video recipe (method-spec "Baselines").
# Method configs beside this file change only the backbone type (and full
# fine-tuning keeps full checkpoints: the runtime here saves tunable-only ones,
# configs/_base_/peft_runtime.py).
#
# Checkpoint: the IN-21k image file of configs/image/_base_/models/
# vit-base-p16_sup-in21k.py, inflated (nothing here downloads):
#   python tools/inflate_image_to_video.py \
#       jx_vit_base_patch16_224_in21k-e5005f0a.pth \
#       checkpoints/vit-base-p16_sup-in21k_inflated-8f.pth --num-frames 8
# The 2D patch kernel becomes a 2x16x16 tubelet (kernel / 2 per frame), the
# learned 2D position table is tiled over the 4 temporal positions (hence
# use_learnable_pos_emb=True; frozen, it carries no frame order: see
# adaptformer_mm/models/convert_image.py), qkv bias -> q_bias/v_bias, the
# image's final norm -> fc_norm, the CLS token and classifier are dropped.
#
# The SSv2 data settings are stated here in full so this experiment reads on
# its own: 8 frames at stride 4, MultiScaleCrop 224 (scales 1/.875/.75/.66), no
# flip (SSv2 classes name directions); test 4 clips x 3 crops, logits averaged.
_base_ = [
    '../../_base_/models/videomae_vit-base-p16.py',
    '../../_base_/schedules/sgd_linear-warmup_cosine_90e.py',
    '../../_base_/peft_runtime.py',
]

model = dict(
    backbone=dict(
        type='TunableVideoViT',
        num_frames=8,
        use_learnable_pos_emb=True,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='checkpoints/vit-base-p16_sup-in21k_inflated-8f.pth',
            prefix='backbone.')),
    # The paper's head: BatchNorm1d (no affine) then Linear, std 0.01.
    cls_head=dict(
        type='BNLinearHead', num_classes=174, in_channels=768,
        average_clips='score'),
    # Google's IN-21k ViT takes inputs scaled to [-1, 1].
    data_preprocessor=dict(
        mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5]))

dataset_type = 'VideoDataset'
data_root = 'data/sthv2/videos'
ann_file_train = 'data/sthv2/sthv2_train_list_videos.txt'
ann_file_val = 'data/sthv2/sthv2_val_list_videos.txt'

train_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=8, frame_interval=4, num_clips=1),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='MultiScaleCrop', input_size=224, scales=(1, 0.875, 0.75, 0.66),
         random_crop=False, max_wh_scale_gap=1),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
val_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=8, frame_interval=4, num_clips=1,
         test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 224)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
test_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=8, frame_interval=4, num_clips=4,
         test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 224)),
    dict(type='ThreeCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]

# 8 GPUs x 128 clips = the recipe's total batch of 1024; the last incomplete
# batch is dropped (drop_last), as in the reference video training.
train_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    drop_last=True,
    dataset=dict(type=dataset_type, ann_file=ann_file_train,
                 data_prefix=dict(video=data_root), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, ann_file=ann_file_val,
                 data_prefix=dict(video=data_root), pipeline=val_pipeline,
                 test_mode=True))
test_dataloader = dict(
    batch_size=8,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, ann_file=ann_file_val,
                 data_prefix=dict(video=data_root), pipeline=test_pipeline,
                 test_mode=True))
val_evaluator = dict(type='AccMetric')
test_evaluator = val_evaluator
