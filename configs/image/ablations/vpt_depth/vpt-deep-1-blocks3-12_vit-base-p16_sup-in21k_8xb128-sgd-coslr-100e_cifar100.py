# Ablation, VPT prompt depth: blocks 3 -> 12 of 12 get 1 prompt token
# (7,680 prompt parameters).
# VPT (Fig. 6): deeper is better; prompts in early blocks matter more.
_base_ = ['../../vpt/'
          'vpt-deep-1_vit-base-p16_sup-in21k_8xb128-sgd-coslr-100e_cifar100.py']

model = dict(backbone=dict(prompt_cfg=dict(layers=[2, 3, 4, 5, 6, 7, 8, 9, 10, 11])))
