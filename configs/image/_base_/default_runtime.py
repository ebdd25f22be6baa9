# Runtime of the image configs: mmpretrain's registry scope plus the project's
# registrations (TunableViT / AdaptFormerViT / VPTViT, the SVHN dataset, the
# stack fixes and TunableSummaryHook).
default_scope = 'mmpretrain'
custom_imports = dict(imports=['adaptformer_mm'], allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook', interval=10, max_keep_ckpts=2,
        save_best='auto'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='VisualizationHook', enable=False))

# Logs "trainable params: N || all params: M || trainable%: x" and the
# trainable modules once the model, checkpoint and resume state are in place.
custom_hooks = [dict(type='TunableSummaryHook')]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # tools/train.py switches this to gloo on machines without CUDA.
    dist_cfg=dict(backend='nccl'))

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)

# The project's choices on top of mmengine, as in the video runtime
# (configs/_base_/default_runtime.py says what each one does).
strict_loading = True
fold_frozen_param_warnings = True

log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)
