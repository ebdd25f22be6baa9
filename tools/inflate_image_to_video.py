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
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import adaptformer_mm  # noqa: E402,F401  (repairs the stack)
from adaptformer_mm.models.convert_image import (  # noqa: E402
    POS_EMBED_MODES, VIDEO_FINAL_NORMS, inflate_image_to_video)
from adaptformer_mm.cli import ConverterTool  # noqa: E402


def add_options(parser):
    parser.add_argument('--num-frames', type=int, default=8)
    parser.add_argument('--tubelet-size', type=int, default=2)
    parser.add_argument('--img-size', type=int, default=224)
    parser.add_argument('--pos-embed', choices=POS_EMBED_MODES,
                        default='tile')
    parser.add_argument('--final-norm', choices=VIDEO_FINAL_NORMS,
                        default='fc_norm',
                        help='fc_norm for use_mean_pooling=True (default)')


def convert(ckpt, args):
    return inflate_image_to_video(
        ckpt, num_frames=args.num_frames, tubelet_size=args.tubelet_size,
        img_size=args.img_size, pos_embed=args.pos_embed,
        final_norm=args.final_norm)


TOOL = ConverterTool(__doc__, 'image ViT checkpoint',
                     'output file (mmaction2 VideoMAE keys)', add_options,
                     convert, 'video')
parse_args, main = TOOL.parse_args, TOOL.main

if __name__ == '__main__':
    sys.exit(main())
