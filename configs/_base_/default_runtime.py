# Runtime shared by every config: mmaction2's defaults plus the project's
# registrations. Image configs override default_scope to 'mmpretrain'.
default_scope = 'mmaction'
custom_imports = dict(imports=['adaptformer_mm'], allow_failed_imports=False)

default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20, ignore_last=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook', interval=1, max_keep_ckpts=3, save_best='auto'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    sync_buffers=dict(type='SyncBuffersHook'))

# TunableSummaryHook logs "trainable params: N || all params: M || trainable%: x"
# and the trainable modules once the model, checkpoint and resume state are in
# place; BadSampleReportHook counts samples a CheckedVideoDataset skipped (it
# does nothing for other datasets).
custom_hooks = [
    dict(type='TunableSummaryHook'),
    dict(type='BadSampleReportHook'),
]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # tools/train.py switches this to gloo on machines without CUDA.
    dist_cfg=dict(backend='nccl'))

log_processor = dict(type='LogProcessor', window_size=20, by_epoch=True)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='ActionVisualizer', vis_backends=vis_backends)

# Choices of this project on top of mmengine, applied around the run by
# tools/train.py and tools/test.py (adaptformer_mm/engine/choices.py;
# docs/stack.md). strict_loading: a checkpoint whose tensors do not fit
# the model (another width, class count, prefix) is refused, naming the file
# and the keys, where mmengine would warn and train the rest from scratch.
# fold_frozen_param_warnings: one log line for the frozen tensors the
# optimizer leaves out, where mmengine warns once per tensor. False (e.g.
# --cfg-options strict_loading=False) keeps mmengine's behaviour.
strict_loading = True
fold_frozen_param_warnings = True

log_level = 'INFO'
load_from = None
resume = False
