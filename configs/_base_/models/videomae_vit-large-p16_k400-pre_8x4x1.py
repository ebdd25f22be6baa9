# The paper's video recipe (videomae_vit-base-p16_k400-pre_8x4x1.py) at ViT-L
# width (videomae_vit-large-p16.py): VideoMAE ViT-L/16 self-supervised on
# Kinetics-400 (1600 epochs, pre-train checkpoint of
# https://github.com/MCG-NJU/VideoMAE/blob/main/MODEL_ZOO.md), converted once:
#   python tools/convert_ckpt.py checkpoint.pth \
#       checkpoints/videomae_vit-large-p16_k400-pre-1600e_mmaction.pth
# (mmaction2 hosts only the K400 *fine-tuned* ViT-L, which has seen labels.)
# Memory: 128 clips per GPU is the paper's ViT-B setting; at this width keep
# the total batch with fewer clips and accumulation, e.g.
#   --cfg-options train_dataloader.batch_size=32 \
#       optim_wrapper.accumulative_counts=4
_base_ = ['./videomae_vit-base-p16_k400-pre_8x4x1.py']

pretrained = 'checkpoints/videomae_vit-large-p16_k400-pre-1600e_mmaction.pth'

model = dict(
    backbone=dict(
        embed_dims=1024, depth=24, num_heads=16,
        init_cfg=dict(checkpoint=pretrained)),
    cls_head=dict(in_channels=1024))
