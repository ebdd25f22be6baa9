# The AdaptFormer video recipe (8 frames at stride 4, 224 crops; see
# videomae_vit-base-p16_k400-pre_8x4x1.py) on Video Swin-B. With 8 frames the
# patch grid is 4 x 56 x 56 and the 8x7x7 windows shrink to 4x7x7 in time
# (SwinTransformer3D does this itself; the relative-position table is the
# same). Method configs pick the backbone type: TunableVideoSwin (linear
# probe / full), AdaptFormerVideoSwin, VPTVideoSwin.
#
# Weights: mmaction2's model zoo Swin-B, ImageNet-1k pre-trained then
# trained on Kinetics-400 (swin-base-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_
# kinetics400-rgb, 80.57 top-1; nothing here downloads):
#   https://download.openmmlab.com/mmaction/v1.0/recognition/swin/swin-base-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb/swin-base-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb_20220930-182ec6cc.pth
# A Recognizer3D checkpoint, hence the prefix: its 'backbone.*' tensors load
# with the same keys. (mmaction2's zoo has the ImageNet-22k pre-trained
# Video Swin at the L size only: swin-large-p244-w877_in22k-pre_8xb8-amp-
# 32x2x1-30e_kinetics400-rgb; with arch='large' and in_channels=1536 it loads
# the same way.)
_base_ = ['./video-swin-base-p244-w877.py']

pretrained = ('checkpoints/swin-base-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_'
              'kinetics400-rgb_20220930-182ec6cc.pth')

model = dict(
    backbone=dict(
        type='TunableVideoSwin',
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    # The feature is a map (B, 1024, T', H', W'): I3DHead averages it, then a
    # Linear (no dropout: AdaptFormer's head has none). 'score' averages
    # logits over the 4 clips x 3 crops of the test protocol.
    cls_head=dict(dropout_ratio=0.0, average_clips='score'))
