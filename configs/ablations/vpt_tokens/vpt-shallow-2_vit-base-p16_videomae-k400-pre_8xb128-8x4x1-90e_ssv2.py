# Ablation, VPT-shallow with 2 token(s) before block 1 only (1,536 prompt
# parameters).
_base_ = ['../../vpt/'
          'vpt-deep-1_vit-base-p16_videomae-k400-pre_8xb128-8x4x1-90e_ssv2.py']

model = dict(backbone=dict(prompt_cfg=dict(num_tokens=2, deep=False)))
