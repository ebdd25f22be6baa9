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
import sys

import adaptformer_mm  # noqa: F401  (repairs the stack)
from adaptformer_mm.models.convert import (load_checkpoint_file,
                                           save_converted)
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
    try:
        conversion = convert_image_vit(
            load_checkpoint_file(args.src), img_size=args.img_size)
    except (ValueError, RuntimeError, FileNotFoundError) as e:
        print(f'error: {args.src}: {e}', file=sys.stderr)
        return 1
    print(conversion.report())
    if conversion.unknown and not args.ignore_unknown:
        print(f'error: {args.src}: no mmpretrain name for '
              f'{conversion.unknown}; rerun with --ignore-unknown to drop '
              f'them', file=sys.stderr)
        return 1
    save_converted(conversion, args.dst)
    print(f'saved {args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
