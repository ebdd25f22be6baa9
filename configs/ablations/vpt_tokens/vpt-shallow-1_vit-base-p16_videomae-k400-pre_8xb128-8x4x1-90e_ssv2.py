# Ablation, VPT-shallow with 1 token(s) before block 1 only (768 prompt
# parameters).
_base_ = ['../../vpt/'
          'vpt-deep-1_vit-base-p16_videomae-k400-pre_8xb128-8x4x1-90e_ssv2.py']

model = dict(backbone=dict(prompt_cfg=dict(num_tokens=1, deep=False)))
