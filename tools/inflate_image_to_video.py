"""Inflate an image ViT checkpoint to mmaction2's VideoMAE ViT (video keys).

    python tools/inflate_image_to_video.py IN.pth OUT.pth [--num-frames 8]
        [--tubelet-size 2] [--img-size 224] [--pos-embed tile|sinusoid]
        [--final-norm fc_norm|norm]

IN is a timm / MAE / mmpretrain image ViT file (layout read from the keys).
The 2D patch kernel becomes a tubelet kernel (replicated over time, divided
by the tubelet size), qkv biases become q_bias / v_bias, the CLS token and
classifier are dropped, and the position table is tiled over time
(``--pos-embed tile``: build the backbone with use_learnable_pos_emb=True) or
replaced by VideoMAE's sinusoid table. See
adaptformer_mm/models/convert_image.py:inflate_image_to_video. OUT loads with
``torch.load(weights_only=True)`` and as
``init_cfg=dict(type='Pretrained', checkpoint=OUT, prefix='backbone.')``.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import adaptformer_mm  # noqa: E402,F401  (repairs the stack)
from adaptformer_mm.models.convert import convert_file
from adaptformer_mm.models.convert_image import (POS_EMBED_MODES,
                                                 VIDEO_FINAL_NORMS,
                                                 inflate_image_to_video)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='image ViT checkpoint')
    parser.add_argument('dst', help='output file (mmaction2 VideoMAE keys)')
    parser.add_argument('--num-frames', type=int, default=8)
    parser.add_argument('--tubelet-size', type=int, default=2)
    parser.add_argument('--img-size', type=int, default=224)
    parser.add_argument('--pos-embed', choices=POS_EMBED_MODES,
                        default='tile')
    parser.add_argument('--final-norm', choices=VIDEO_FINAL_NORMS,
                        default='fc_norm',
                        help='fc_norm for use_mean_pooling=True (default)')
    parser.add_argument(
        '--ignore-unknown', action='store_true',
        help='drop keys no rule converts instead of failing')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    return convert_file(
        args.src, args.dst,
        lambda ckpt: inflate_image_to_video(
            ckpt, num_frames=args.num_frames, tubelet_size=args.tubelet_size,
            img_size=args.img_size, pos_embed=args.pos_embed,
            final_norm=args.final_norm),
        'video', args.ignore_unknown)


if __name__ == '__main__':
    sys.exit(main())
