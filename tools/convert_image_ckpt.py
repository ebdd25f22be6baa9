"""Convert an image ViT checkpoint (MAE or timm layout) to mmpretrain keys.

    python tools/convert_image_ckpt.py IN.pth OUT.pth [--img-size 224]

The layout is detected from the keys (see
adaptformer_mm/models/convert_image.py). The output holds
``{'state_dict': ...}`` with ``backbone.*`` (and ``head.layers.*`` when the
file has a classifier), loads with ``torch.load(weights_only=True)`` and is
used as ``init_cfg=dict(type='Pretrained', checkpoint=OUT,
prefix='backbone.')`` of TunableViT / AdaptFormerViT / VPTViT.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import adaptformer_mm  # noqa: E402,F401  (repairs the stack)
from adaptformer_mm.models.convert import convert_file
from adaptformer_mm.models.convert_image import convert_image_vit


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='MAE / timm / mmpretrain checkpoint')
    parser.add_argument('dst', help='output file (mmpretrain keys)')
    parser.add_argument(
        '--img-size', type=int, default=None,
        help='resize pos_embed to this input size (default: keep)')
    parser.add_argument(
        '--ignore-unknown', action='store_true',
        help='drop keys no rule converts instead of failing')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    return convert_file(
        args.src, args.dst,
        lambda ckpt: convert_image_vit(ckpt, img_size=args.img_size),
        'mmpretrain', args.ignore_unknown)


if __name__ == '__main__':
    sys.exit(main())
