# HMDB51 split 1 (51 classes, 3,570 train / 1,530 test avi clips; the paper
# reports split 1) decoded with decord. The test split is the validation set.
# Layout and list files: docs/data_preparation.md.
dataset_type = 'VideoDataset'
data_root = 'data/hmdb51/videos'
ann_file_train = 'data/hmdb51/hmdb51_train_split_1_videos.txt'
ann_file_val = 'data/hmdb51/hmdb51_val_split_1_videos.txt'

# The AdaptFormer recipe: 8 frames at stride 4, MultiScaleCrop to 224 with
# scales 1/.875/.75/.66; HMDB51's classes do not depend on left/right, so
# clips are also flipped (only SSv2 trains without flip).
train_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=8, frame_interval=4, num_clips=1),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 256)),
    dict(
        type='MultiScaleCrop',
        input_size=224,
        scales=(1, 0.875, 0.75, 0.66),
        random_crop=False,
        max_wh_scale_gap=1),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
# Validation while training uses one centre view to stay cheap; the reported
# number is the test protocol below.
val_pipeline = [
    dict(type='DecordInit'),
    dict(
        type='SampleFrames',
        clip_len=8,
        frame_interval=4,
        num_clips=1,
        test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 224)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
# The paper's test protocol: 4 clips x 3 spatial crops (short side 224, crops
# along the long side); the head averages the 12 views' logits.
test_pipeline = [
    dict(type='DecordInit'),
    dict(
        type='SampleFrames',
        clip_len=8,
        frame_interval=4,
        num_clips=4,
        test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 224)),
    dict(type='ThreeCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]

# 8 GPUs x 128 clips = the paper's total batch of 1024 (the schedule's
# auto_scale_lr.base_batch_size). Another GPU count: --auto-scale-lr.
# Workers (docs/benchmarks.md, "Data path"): this pipeline read 93-128
# clips/s per core on HMDB51-like 320x240 MPEG-4 AVI clips, so 4-5 workers
# per GPU keep up with 400 clips/s; 8 leave headroom. One decoder thread
# each.
# drop_last: the last incomplete batch of an epoch is dropped, as in the
# reference video training (AdaptFormer, VideoMAE); a GPU whose share left
# one clip over would otherwise give BNLinearHead's BatchNorm a batch of 1.
train_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    drop_last=True,
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file_train,
        data_prefix=dict(video=data_root),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file_val,
        data_prefix=dict(video=data_root),
        pipeline=val_pipeline,
        test_mode=True))
test_dataloader = dict(
    batch_size=4,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file_val,
        data_prefix=dict(video=data_root),
        pipeline=test_pipeline,
        test_mode=True))

val_evaluator = dict(type='AccMetric')
test_evaluator = val_evaluator
