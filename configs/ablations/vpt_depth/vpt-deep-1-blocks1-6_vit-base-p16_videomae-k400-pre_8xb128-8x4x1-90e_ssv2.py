# Ablation, VPT prompt depth: blocks 1 -> 6 of 12 get 1 prompt token
# (4,608 prompt parameters).
# VPT (Fig. 6): deeper is better; prompts in early blocks matter more.
_base_ = ['../../vpt/'
          'vpt-deep-1_vit-base-p16_videomae-k400-pre_8xb128-8x4x1-90e_ssv2.py']

model = dict(backbone=dict(prompt_cfg=dict(layers=[0, 1, 2, 3, 4, 5])))
