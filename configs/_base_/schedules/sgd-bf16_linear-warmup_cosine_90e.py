# The AdaptFormer recipe (sgd_linear-warmup_cosine_90e.py) under bf16 autocast,
# as the paper's video runs (AMP). bf16 keeps fp32's exponent range, so no
# loss scaling is needed: the GradScaler is disabled rather than left to skip
# steps. AmpOptimWrapper needs a GPU (tools/train.py --amp is not needed:
# configs inheriting this file are AMP already); on a machine without one,
# tools/train.py trains in fp32 (OptimWrapper) and warns once.
_base_ = ['./sgd_linear-warmup_cosine_90e.py']

optim_wrapper = dict(
    type='AmpOptimWrapper', dtype='bfloat16', loss_scale=dict(enabled=False))
