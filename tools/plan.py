"""Plan a config's training step: memory per GPU and the batch that fits,
FLOPs per clip and the clips/s a peak allows, without a GPU.

    python tools/plan.py CONFIG [--batch B] [--frames T] [--size S]
        [--amp none|bf16|fp16] [--with-cp] [--memory 24G]
        [--peak-tflops 989] [--device cuda|cpu] [--json FILE [--force]]
        [--cfg-options k=v ...]

Runs one training step of the config's model on fake tensors (no weights
loaded, nothing allocated) and prints weights, optimizer state, input,
activations saved for backward (per clip and at the batch), the step's peak,
the largest batch that fits ``--memory`` after the margin, and forward /
backward FLOPs. Defaults come from the config: the per-GPU batch
(``train_dataloader.batch_size``), the clip shape, the AMP dtype of
``optim_wrapper``. Exit status 2, with the reason, for a config it cannot
plan, a memory size it cannot read and a batch that does not fit.
See docs/planner.md.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import adaptformer_mm  # noqa: E402,F401  (stack fixes + registrations)
from adaptformer_mm.planner import (format_plan, parse_memory,  # noqa: E402
                                    plan_config, planning_main)
from adaptformer_mm.planner.memory import DEVICES  # noqa: E402
from adaptformer_mm.benchmark.model import AMP_DTYPES  # noqa: E402
from adaptformer_mm.cli import (  # noqa: E402
    ConfigBenchmarkTool, add_clip_options, add_json_option, positive_int)


def memory_size(text):
    try:
        return parse_memory(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def add_options(parser):
    parser.add_argument('--batch', type=positive_int,
                        help='clips per GPU (default: the config\'s '
                        'train_dataloader.batch_size, times num_repeats of a '
                        'RepeatedAugDataset)')
    add_clip_options(parser, AMP_DTYPES, config_amp='the config\'s '
                     'optim_wrapper: AmpOptimWrapper\'s dtype, else none')
    parser.add_argument('--with-cp', action='store_true',
                        help='activation checkpointing of the backbone '
                        'blocks (model.backbone.with_cp=True)')
    parser.add_argument('--memory', type=memory_size, default='80G',
                        help='the GPU\'s memory, e.g. 24G, 40GB, 80GiB, '
                        '80000M (binary units; default 80G)')
    parser.add_argument('--peak-tflops', type=float, default=989.0,
                        help='the GPU\'s peak TFLOP/s for clips/s (default '
                        '989: H100 SXM dense bf16)')
    parser.add_argument('--device', choices=DEVICES, default='cuda',
                        help='plan for a CUDA GPU (default) or the CPU')
    add_json_option(parser)


def run(cfg, args):
    return plan_config(
        cfg, batch=args.batch, frames=args.frames, size=args.size,
        amp=args.amp, with_cp=args.with_cp, device=args.device,
        memory=args.memory, peak_tflops=args.peak_tflops).to_dict()


TOOL = ConfigBenchmarkTool(
    'Plan the memory and compute of a config\'s training step', add_options,
    'override config settings, e.g. model.backbone.attn_impl=eager', run,
    format_plan)
parse_args = TOOL.parse_args


def main(argv=None):
    return planning_main(TOOL.main, argv)


if __name__ == '__main__':
    main()
