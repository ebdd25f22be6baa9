# ssv2_video.py with the videos decoded on the GPU (NVDEC) instead of by
# decord on the CPU: GPUDecodeInit / GPUDecode in place of DecordInit /
# DecordDecode, every other step unchanged (adaptformer_mm/datasets/
# gpu_decode.py; install and speed: docs/data_preparation.md). Needs a CUDA
# GPU and torchcodec or PyNvVideoCodec; on a CPU machine it stops when the
# pipeline is built. The lists are restated because mmengine replaces lists.
_base_ = ['./ssv2_video.py']

train_pipeline = [
    dict(type='GPUDecodeInit', backend='auto'),
    dict(type='SampleFrames', clip_len=8, frame_interval=4, num_clips=1),
    dict(type='GPUDecode'),
    dict(type='Resize', scale=(-1, 256)),
    dict(
        type='MultiScaleCrop',
        input_size=224,
        scales=(1, 0.875, 0.75, 0.66),
        random_crop=False,
        max_wh_scale_gap=1),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
val_pipeline = [
    dict(type='GPUDecodeInit', backend='auto'),
    dict(
        type='SampleFrames',
        clip_len=8,
        frame_interval=4,
        num_clips=1,
        test_mode=True),
    dict(type='GPUDecode'),
    dict(type='Resize', scale=(-1, 224)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
test_pipeline = [
    dict(type='GPUDecodeInit', backend='auto'),
    dict(
        type='SampleFrames',
        clip_len=8,
        frame_interval=4,
        num_clips=4,
        test_mode=True),
    dict(type='GPUDecode'),
    dict(type='Resize', scale=(-1, 224)),
    dict(type='ThreeCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]

# CUDA cannot be used in workers forked from the (CUDA-using) main process:
# spawn them. Each worker opens a CUDA context on the rank's GPU; the worker
# count is the base's (sized for CPU decoding), not measured for this path.
# Decoding in the main process instead: num_workers=0 with
# multiprocessing_context=None and persistent_workers=False (torch refuses
# both keys without workers).
train_dataloader = dict(
    multiprocessing_context='spawn', dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(
    multiprocessing_context='spawn', dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(
    multiprocessing_context='spawn', dataset=dict(pipeline=test_pipeline))
