# Ablation, VPT-deep with 1 token(s) before every block (9,216 prompt
# parameters). The Table 1 VPT setting.
_base_ = ['../../vpt/'
          'vpt-deep-1_vit-base-p16_videomae-k400-pre_8xb128-8x4x1-90e_ssv2.py']

model = dict(backbone=dict(prompt_cfg=dict(num_tokens=1, deep=True)))
