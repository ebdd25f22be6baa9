"""Print the planner's tables of docs/planner.md, in Markdown.

Every method on VideoMAE ViT-B / L / H, VideoMAE V2 ViT-g and Video Swin-B,
with and without activation checkpointing, and what each memory option buys
on ViT-B.

    python tools/plan_table.py [--frames 16] [--size 224] [--amp bf16]
        [--batch 8] [--memories 24G 40G 80G] [--only recipes|options]

Planner estimates for a CUDA GPU (fake tensors, no GPU needed); takes a few
minutes on two CPU cores.
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import adaptformer_mm  # noqa: E402,F401  (stack fixes + registrations)
from adaptformer_mm.planner.table import (option_table,  # noqa: E402
                                          recipe_table)
from adaptformer_mm.benchmark.model import AMP_DTYPES  # noqa: E402
from adaptformer_mm.cli import (  # noqa: E402
    add_clip_options, positive_int, tool_parser)

CONFIGS = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs')


def parse_args(argv=None):
    parser = tool_parser(__doc__)
    add_clip_options(parser, AMP_DTYPES, frames=16, size=224, amp='bf16')
    parser.add_argument('--batch', type=positive_int, default=8,
                        help='the batch the totals are given at (default 8)')
    parser.add_argument('--memories', nargs='+', default=['24G', '40G', '80G'],
                        help='GPU memories for the largest batch (default '
                        '24G 40G 80G; the options table takes the first)')
    parser.add_argument('--only', choices=['recipes', 'options'],
                        help='print one of the two tables')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    shape = dict(frames=args.frames, size=args.size, amp=args.amp,
                 batch=args.batch)

    def progress(row):
        print(f'planning {row} ...', file=sys.stderr, flush=True)

    if args.only != 'options':
        print(recipe_table(CONFIGS, memories=args.memories, progress=progress,
                           **shape))
    if args.only != 'recipes':
        print()
        print(option_table(CONFIGS, memory=args.memories[0],
                           progress=progress, **shape))


if __name__ == '__main__':
    main()
