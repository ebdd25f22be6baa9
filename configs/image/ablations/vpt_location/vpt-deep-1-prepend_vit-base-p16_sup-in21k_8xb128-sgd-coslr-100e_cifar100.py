# Ablation, VPT prompt location: prepended to the tokens before every
# block (the method; the main setting).
# 9,216 prompt parameters. VPT (Fig. 5): prepend beats add and pixel space.
_base_ = ['../../vpt/'
          'vpt-deep-1_vit-base-p16_sup-in21k_8xb128-sgd-coslr-100e_cifar100.py']

model = dict(backbone=dict(prompt_cfg=dict(location='prepend')))
