# Ablation, VPT prompt location: one 3x2x16x16 pixel tubelet through
# the frozen patch embedding, prepended before block 1 (no position
# embedding).
# 1,536 prompt parameters. VPT (Fig. 5): prepend beats add and pixel space.
_base_ = ['../../vpt/'
          'vpt-deep-1_vit-base-p16_videomae-k400-pre_8xb128-8x4x1-90e_ssv2.py']

model = dict(backbone=dict(prompt_cfg=dict(location='prepend_pixel', deep=False)))
