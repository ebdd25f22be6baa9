# Ablation, VPT-shallow with 16 token(s) before block 1 only (12,288 prompt
# parameters).
# AdaptFormer reports that VPT collapses on SSv2 with 8 or more tokens.
_base_ = ['../../vpt/'
          'vpt-deep-1_vit-base-p16_videomae-k400-pre_8xb128-8x4x1-90e_ssv2.py']

model = dict(backbone=dict(prompt_cfg=dict(num_tokens=16, deep=False)))
