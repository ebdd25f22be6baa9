"""Convert a VideoMAE or VideoMAE V2 checkpoint (pre-training, fine-tuned or
distilled) to mmaction2.

    python tools/convert_ckpt.py IN.pth OUT.pth [--num-frames 16] [--force]

The layout is detected from the keys (see adaptformer_mm/models/convert.py);
VideoMAE V2 files (``vit_g_hybrid_pt_1200e.pth``,
``vit_s_k710_dl_from_giant.pth``) have VideoMAE's keys. The report names the
architecture found and its ``configs/_base_/models`` file. The output holds
``{'state_dict': ...}`` with ``backbone.*`` (and
``cls_head.fc_cls.*`` for fine-tuned files) and loads with
``torch.load(weights_only=True)``, ``load_from`` or
``init_cfg=dict(type='Pretrained', checkpoint=OUT, prefix='backbone.')``.
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import adaptformer_mm  # noqa: E402,F401  (repairs the stack before mmaction)
from adaptformer_mm.models.convert import convert_videomae  # noqa: E402
from adaptformer_mm.cli import ConverterTool  # noqa: E402


def add_options(parser):
    parser.add_argument(
        '--num-frames', type=int, default=16,
        help='frames the sinusoid pos_embed is generated for (default 16)')
    parser.add_argument(
        '--img-size', type=int, default=224,
        help='input size the sinusoid pos_embed is generated for')


TOOL = ConverterTool(
    __doc__, 'original checkpoint', 'output file (mmaction2 keys)',
    add_options,
    lambda ckpt, args: convert_videomae(ckpt, args.num_frames, args.img_size),
    'mmaction2')
parse_args, main = TOOL.parse_args, TOOL.main

if __name__ == '__main__':
    sys.exit(main())
