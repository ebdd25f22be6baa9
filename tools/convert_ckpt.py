"""Convert a VideoMAE checkpoint (pre-training or fine-tuned) to mmaction2.

    python tools/convert_ckpt.py IN.pth OUT.pth [--num-frames 16]

The layout is detected from the keys (see adaptformer_mm/models/convert.py).
The output holds ``{'state_dict': ...}`` with ``backbone.*`` (and
``cls_head.fc_cls.*`` for fine-tuned files) and loads with
``torch.load(weights_only=True)``, ``load_from`` or
``init_cfg=dict(type='Pretrained', checkpoint=OUT, prefix='backbone.')``.
"""
import argparse
import sys

import adaptformer_mm  # noqa: F401  (repairs the stack before mmaction)
from adaptformer_mm.models.convert import (convert_videomae,
                                           load_checkpoint_file,
                                           save_converted)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='original checkpoint')
    parser.add_argument('dst', help='output file (mmaction2 keys)')
    parser.add_argument(
        '--num-frames', type=int, default=16,
        help='frames the sinusoid pos_embed is generated for (default 16)')
    parser.add_argument(
        '--img-size', type=int, default=224,
        help='input size the sinusoid pos_embed is generated for')
    parser.add_argument(
        '--ignore-unknown', action='store_true',
        help='drop keys no rule converts instead of failing')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        ckpt = load_checkpoint_file(args.src)
        conversion = convert_videomae(ckpt, args.num_frames, args.img_size)
    except (ValueError, RuntimeError, FileNotFoundError) as e:
        print(f'error: {args.src}: {e}', file=sys.stderr)
        return 1
    print(conversion.report())
    if conversion.unknown and not args.ignore_unknown:
        print(f'error: {args.src}: no mmaction2 name for '
              f'{conversion.unknown}; rerun with --ignore-unknown to drop '
              f'them', file=sys.stderr)
        return 1
    save_converted(conversion, args.dst)
    print(f'saved {args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
