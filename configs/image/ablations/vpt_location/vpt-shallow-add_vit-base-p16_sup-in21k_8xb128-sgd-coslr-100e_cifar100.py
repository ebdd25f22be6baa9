# Ablation, VPT prompt location: added element-wise to the 196 patch
# tokens before block 1 (one prompt per token).
# 150,528 prompt parameters. VPT (Fig. 5): prepend beats add and pixel space.
_base_ = ['../../vpt/'
          'vpt-deep-1_vit-base-p16_sup-in21k_8xb128-sgd-coslr-100e_cifar100.py']

model = dict(backbone=dict(prompt_cfg=dict(location='add', num_tokens=None, deep=False)))
