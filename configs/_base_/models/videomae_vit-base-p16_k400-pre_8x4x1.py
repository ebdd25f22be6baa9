# The AdaptFormer paper's video model (Table 1): VideoMAE ViT-B/16,
# self-supervised on Kinetics-400 (no labels), 8 input frames (tubelet 2:
# 4 x 14 x 14 = 784 tokens), the BN + Linear head, and logits (not softmax
# probabilities) averaged over the test views. Method configs pick the
# backbone type: TunableVideoViT (linear probe / full), AdaptFormerVideoViT,
# VPTVideoViT.
_base_ = ['./videomae_vit-base-p16.py']

# mmaction2 hosts only the K400 *fine-tuned* VideoMAE ViT-B (81.3 top-1, its
# videomae metafile.yml):
#   https://download.openmmlab.com/mmaction/v1.0/recognition/videomae/vit-base-p16_videomae-k400-pre_16x4x1_kinetics-400_20221013-860a3cd3.pth
# It has seen K400 labels, so it is not the paper's starting point. The
# self-supervised checkpoint the paper uses ("K400, ViT-B, 1600 epochs,
# pre-train") is linked from https://github.com/MCG-NJU/VideoMAE/blob/main/MODEL_ZOO.md
# and has VideoMAE's own keys; convert it once (the layout is detected from
# the keys, the decoder is dropped):
#   python tools/convert_ckpt.py checkpoint.pth \
#       checkpoints/videomae_vit-base-p16_k400-pre-1600e_mmaction.pth
# The converted file holds a Recognizer3D state dict, hence the prefix:
# only its 'backbone.*' tensors are loaded into the backbone.
pretrained = 'checkpoints/videomae_vit-base-p16_k400-pre-1600e_mmaction.pth'

model = dict(
    backbone=dict(
        type='TunableVideoViT',
        num_frames=8,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    # BatchNorm1d(affine=False) + Linear(std 0.01): MAE's linear-probe head,
    # used by AdaptFormer for every method. 'score' averages logits over the
    # 4 clips x 3 crops of the test protocol.
    cls_head=dict(type='BNLinearHead', average_clips='score'))
