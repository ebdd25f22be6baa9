"""Write the ablation configs under ``configs/ablations/`` (run once; the
outputs are committed, and a test checks that they match this script).

    python tools/misc/make_ablation_configs.py [--out-dir configs/ablations]

Every file inherits the AdaptFormer-64 (or VPT) SSv2 experiment, where the
paper ran its ablations, and overrides one setting. Each sweep folder is
complete, including the value of the main config, so that
``for f in configs/ablations/adaptformer_bottleneck/*.py`` runs the sweep.
"""
import argparse
import os
import os.path as osp

STEM = 'vit-base-p16_videomae-k400-pre_8xb128-8x4x1-90e_ssv2'
ADAPTFORMER = f'../../adaptformer/adaptformer-64_{STEM}.py'
VPT = f'../../vpt/vpt-deep-1_{STEM}.py'
DEPTH = 12
WIDTH = 768


def adapter_params(bottleneck: int, layers: int = DEPTH) -> int:
    """Down (d*r + r) + up (r*d + d) per adapted block."""
    return layers * (2 * WIDTH * bottleneck + bottleneck + WIDTH)


def config(comment: str, base: str, body: str) -> str:
    folder, name = base.rsplit('/', 1)
    return f"{comment}\n_base_ = ['{folder}/'\n          '{name}']\n\n{body}"


def bottleneck_sweep():
    for r in (1, 4, 8, 16, 32, 64, 128, 256, 512):
        comment = (
            f'# Ablation, bottleneck width: r = {r} in all 12 blocks '
            f'({adapter_params(r):,} adapter\n# parameters, '
            f'{adapter_params(r) / 1e6:.2f}M).')
        if r == 64:
            comment += ' The main AdaptFormer-64 setting.'
        yield (f'adaptformer_bottleneck/adaptformer-{r}_{STEM}.py',
               config(comment, ADAPTFORMER,
                      f'model = dict(backbone=dict(adapter_cfg=dict('
                      f'bottleneck={r})))\n'))


def layers_sweep():
    for count in (1, 2, 4, 6, 8, 12):
        for where in ('top', 'bottom'):
            if count == DEPTH and where == 'bottom':
                continue  # all 12 blocks: one config
            layers = list(range(DEPTH - count, DEPTH)) if where == 'top' \
                else list(range(count))
            if count == DEPTH:
                layers = None  # spelled as the main config does
            name = 'all' if count == DEPTH else f'{where}{count}'
            comment = (
                f'# Ablation, adapted blocks: the {where} {count} of 12 '
                f'({adapter_params(64, count):,} adapter parameters).\n'
                '# The paper: more adapted blocks is better, and at equal '
                'count the top\n# (last) blocks beat the bottom ones.')
            if count == DEPTH:
                comment = '# Ablation, adapted blocks: all 12 (the main setting).'
            yield (f'adaptformer_layers/adaptformer-64-{name}_{STEM}.py',
                   config(comment, ADAPTFORMER,
                          f'model = dict(backbone=dict(adapter_cfg=dict('
                          f'layers={layers})))\n'))


def position_sweep():
    for mode in ('parallel', 'sequential'):
        comment = (
            f'# Ablation, adapter placement: {mode}. Parallel reads the '
            'residual stream\n# beside the MLP; sequential reads the MLP '
            'output. The paper: parallel is\n# 0.85 top-1 better on SSv2.')
        yield (f'adaptformer_position/adaptformer-64-{mode}_{STEM}.py',
               config(comment, ADAPTFORMER,
                      f"model = dict(backbone=dict(adapter_cfg=dict("
                      f"mode='{mode}')))\n"))


def scale_sweep():
    for s in (0.01, 0.05, 0.1, 0.2, 0.5, 1.0):
        comment = f'# Ablation, adapter output scale: fixed s = {s}.'
        if s == 0.1:
            comment += ' The main setting.'
        yield (f'adaptformer_scale/adaptformer-64-s{s}_{STEM}.py',
               config(comment, ADAPTFORMER,
                      f'model = dict(backbone=dict(adapter_cfg=dict('
                      f'scale={s})))\n'))
    comment = ('# Ablation, adapter output scale: one learnable s per '
               'adapter, starting at 1.0\n# as in the reference code.')
    yield (f'adaptformer_scale/adaptformer-64-s-learnable_{STEM}.py',
           config(comment, ADAPTFORMER,
                  'model = dict(\n    backbone=dict(adapter_cfg=dict('
                  'scale=1.0, learnable_scale=True)))\n'))


def frames_sweep():
    for frames in (2, 4, 8):
        stem = STEM.replace('8x4x1', f'{frames}x4x1')
        comment = (
            f'# Ablation, input frames: {frames} at stride 4 '
            f'(tubelet 2: {frames // 2} x 14 x 14 tokens).')
        if frames == 8:
            comment += '\n# The main setting.'
        comment += ('\n# The backbone and every SampleFrames step change; '
                    'the rest of each pipeline\n# is the inherited one.')
        body = f'num_frames = {frames}\n'
        body += 'model = dict(backbone=dict(num_frames=num_frames))\n'
        for loader in ('train', 'val', 'test'):
            body += (
                f'{loader}_dataloader = dict(dataset=dict(pipeline=[\n'
                "    {**step, 'clip_len': num_frames}\n"
                "    if step['type'] == 'SampleFrames' else step\n"
                f'    for step in _base_.{loader}_dataloader.dataset.pipeline'
                ']))\n')
        yield (f'adaptformer_frames/adaptformer-64_{stem}.py',
               config(comment, ADAPTFORMER, body))


def vpt_sweep():
    for deep in (False, True):
        kind = 'deep' if deep else 'shallow'
        for tokens in (1, 2, 4, 8, 16, 32):
            params = tokens * WIDTH * (DEPTH if deep else 1)
            where = 'before every block' if deep else 'before block 1 only'
            comment = (f'# Ablation, VPT-{kind} with {tokens} token(s) '
                       f'{where} ({params:,} prompt\n# parameters).')
            if deep and tokens == 1:
                comment += ' The Table 1 VPT setting.'
            if tokens >= 8:
                comment += ('\n# AdaptFormer reports that VPT collapses on '
                            'SSv2 with 8 or more tokens.')
            yield (f'vpt_tokens/vpt-{kind}-{tokens}_{STEM}.py',
                   config(comment, VPT,
                          f'model = dict(backbone=dict(prompt_cfg=dict('
                          f'num_tokens={tokens}, deep={deep})))\n'))


def all_configs():
    for sweep in (bottleneck_sweep, layers_sweep, position_sweep,
                  scale_sweep, frames_sweep, vpt_sweep):
        yield from sweep()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--out-dir',
        default=osp.join(
            osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))),
            'configs', 'ablations'))
    args = parser.parse_args(argv)
    for rel, text in all_configs():
        path = osp.join(args.out_dir, rel)
        os.makedirs(osp.dirname(path), exist_ok=True)
        with open(path, 'w') as f:
            f.write(text)
    print(f'wrote {len(list(all_configs()))} configs under {args.out_dir}')


if __name__ == '__main__':
    main()
