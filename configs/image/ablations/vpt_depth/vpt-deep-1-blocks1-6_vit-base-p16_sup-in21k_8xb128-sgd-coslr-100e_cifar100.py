# Ablation, VPT prompt depth: blocks 1 -> 6 of 12 get 1 prompt token
# (4,608 prompt parameters).
# VPT (Fig. 6): deeper is better; prompts in early blocks matter more.
_base_ = ['../../vpt/'
          'vpt-deep-1_vit-base-p16_sup-in21k_8xb128-sgd-coslr-100e_cifar100.py']

model = dict(backbone=dict(prompt_cfg=dict(layers=[0, 1, 2, 3, 4, 5])))
