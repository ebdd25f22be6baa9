"""Convert an image ViT checkpoint (MAE, timm or MoCo v3) to mmpretrain keys.

    python tools/convert_image_ckpt.py IN.pth OUT.pth [--img-size 224]
        [--force]

The layout is detected from the keys (see
adaptformer_mm/models/convert_image.py). The output holds
``{'state_dict': ...}`` with ``backbone.*`` (and ``head.layers.*`` when the
file has a classifier), loads with ``torch.load(weights_only=True)`` and is
used as ``init_cfg=dict(type='Pretrained', checkpoint=OUT,
prefix='backbone.')`` of TunableViT / AdaptFormerViT / VPTViT.
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import adaptformer_mm  # noqa: E402,F401  (repairs the stack)
from adaptformer_mm.models.convert_image import convert_image_vit  # noqa: E402
from adaptformer_mm.cli import ConverterTool  # noqa: E402


def add_options(parser):
    parser.add_argument(
        '--img-size', type=int, default=None,
        help='resize pos_embed to this input size (default: keep)')


TOOL = ConverterTool(
    __doc__, 'MAE / timm / MoCo v3 / mmpretrain checkpoint',
    'output file (mmpretrain keys)', add_options,
    lambda ckpt, args: convert_image_vit(ckpt, img_size=args.img_size),
    'mmpretrain')
parse_args, main = TOOL.parse_args, TOOL.main

if __name__ == '__main__':
    sys.exit(main())
