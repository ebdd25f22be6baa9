# Ablation, VPT prompt location: one 3x16x16 pixel patch through
# the frozen patch embedding, prepended before block 1 (no position
# embedding).
# 768 prompt parameters. VPT (Fig. 5): prepend beats add and pixel space.
_base_ = ['../../vpt/'
          'vpt-deep-1_vit-base-p16_sup-in21k_8xb128-sgd-coslr-100e_cifar100.py']

model = dict(backbone=dict(prompt_cfg=dict(location='prepend_pixel', deep=False)))
