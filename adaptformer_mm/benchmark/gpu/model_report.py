"""The GPU report of the models, in one run within a time budget.

Every throughput target and speed lever of the models, and a short training
through mmengine's Runner:

    python -m adaptformer_mm.benchmark.gpu.model_report [--dry-run]
        [--out DIR] [--work DIR] [--only REGEX] [--list] [--budget-s S]
        [--device cuda|cpu] [--frames T] [--size S] [--amp bf16|fp16|none]
        [--steps K] [--warmup W] [--threads N] [--compile BACKEND]
        [--big-batch B] [--small-batch B] [--runner-batch B]
        [--runner-iters N] [--runner-workers N] [--runner-compile]

(``bash tools/gpu_report.sh`` first installs the wheels carried in
``.whl/`` where the OpenMMLab stack does not import.) Every option not given
takes the environment variable ``GPU_REPORT_<OPTION>`` (``--big-batch``:
``GPU_REPORT_BIG_BATCH``; ``--out``: ``OUT``), else its default;
``--dry-run`` changes the defaults to a CPU run at tiny shapes and a
2-block, 32-wide ViT: the same code paths in minutes.

Steps, each in its own process under a time limit, within ``--budget-s``
(a step that no longer fits is skipped and recorded so):

1. the machine's facts (:mod:`.facts`): ``machine.json``, ``machine.txt``;
2. one ``tools/benchmark.py --json`` measurement a process (VideoMAE
   ViT-B/16, 16 frames x 224, tubelet 2, bf16): the targets first
   (:data:`TARGETS`), then each lever on / off (:data:`LEVERS`);
3. one short ``tools/train.py`` run of ``configs/adaptformer_ssv2.py``
   (bf16 AMP) on synthetic clips, whose logged iteration time is compared
   with the benchmark's step time (within 15%?);
4. the summary table: measurements, targets, levers, Runner vs benchmark.

Levers that ``tools/benchmark.py`` cannot set (not measured; each needs an
option first): frozen weights stored in bf16 once, an explicit SDPA backend
(cuDNN / flash attention), CUDA graphs (``torch.compile`` modes).

Written under ``--out``: ``machine.json``, ``machine.txt``,
``summary.txt``, ``gpu_report.json`` (the facts, every measurement's JSON,
the steps' outcomes, targets, levers, the Runner comparison) and
``gpu_report.tar.gz`` (those, with ``bundle/``: the measurements' JSONs as
``tools/benchmark.py`` wrote them under ``benchmarks/gpu/``, every step's log
under ``logs/steps/``, the Runner's log and scalars under ``logs/runner/``).
"""
import argparse
import glob
import json
import os
import os.path as osp
import shutil
import sys
from dataclasses import dataclass, fields
from functools import partial
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from ...cli import SignatureOptions, add_clip_options, tool_parser
from ...datasets.synthetic import generate_synthetic_dataset
from ..model import AMP_DTYPES
from .steps import (Budget, Outcome, Step, StepRunner, add_run_options, fmt,
                    format_plan, format_table, load_json, parse_report_args,
                    python_step, ratio, select, temp_dirs, write_json,
                    write_tar, write_text)

ADAPT = 'configs/adaptformer_ssv2.py'
FULL = ('configs/full_finetune/full-finetune_vit-base-p16_videomae-k400-pre_'
        '8xb128-8x4x1-90e_ssv2.py')
LINEAR = ('configs/linear_probe/linear-probe_vit-base-p16_videomae-k400-pre_'
          '8xb128-8x4x1-90e_ssv2.py')
VPT = ('configs/vpt/vpt-deep-1_vit-base-p16_videomae-k400-pre_8xb128-'
       '8x4x1-90e_ssv2.py')
ADAMW = ('optim_wrapper.optimizer._delete_=True',
         'optim_wrapper.optimizer.type=AdamW',
         'optim_wrapper.optimizer.lr=0.001',
         'optim_wrapper.optimizer.weight_decay=0.05')
#: A 2-block, 32-wide ViT for the dry run.
TINY = ('model.backbone.depth=2', 'model.backbone.embed_dims=32',
        'model.backbone.num_heads=2', 'model.cls_head.in_channels=32')
#: Seconds of the budget kept for the summary and the bundle.
RESERVE_S = 15


@dataclass(frozen=True)
class Settings:
    """What the report measures with; the defaults are the GPU run's."""
    device: str = 'cuda'
    frames: int = 16
    size: int = 224
    amp: str = 'bf16'
    steps: int = 20
    warmup: int = 5
    threads: Optional[int] = None
    compile: str = 'inductor'
    big_batch: int = 32
    small_batch: int = 8
    runner_batch: int = 32
    runner_iters: int = 40
    runner_workers: int = 12
    runner_compile: bool = False
    budget_s: int = 450
    dry_run: bool = False

    @property
    def min_step_s(self) -> int:
        """A step starts only with this many seconds (x its weight) left."""
        return 1 if self.dry_run else 25


#: The dry run's defaults.
DRY_RUN = dict(device='cpu', frames=4, size=32, steps=1, warmup=1, threads=1,
               compile='eager', big_batch=2, small_batch=2, runner_batch=2,
               runner_iters=2, runner_workers=0, budget_s=3600)

OPTIONS = SignatureOptions(Settings, dict(
    device='where the measurements run',
    steps='timed steps of each measurement',
    warmup='untimed steps before them',
    threads='torch CPU threads of each measurement',
    compile='torch.compile backend of the compiled measurements (and of '
    'the Runner with --runner-compile)',
    big_batch='clips per step of the b32 measurements',
    small_batch='clips per step of the b8 measurements (stock, full '
    'fine-tuning, fused optimizers)',
    runner_batch='clips per iteration of the Runner',
    runner_iters='iterations of the Runner',
    runner_workers='DataLoader workers of the Runner',
    runner_compile='train the Runner with compile.backend=--compile and '
    'compare it with the compiled benchmark',
    budget_s='seconds for all steps'))


def parse_args(argv=None) -> Tuple[Settings, argparse.Namespace]:
    parser = tool_parser(__doc__)
    add_run_options(parser, 'gpu_report', DRY_RUN)
    parser.add_argument(
        '--only', help='run only the measurements whose name matches this '
        "regular expression (e.g. '^(adaptformer_b32|runner)$'; runner "
        'brings its runner_data; the facts always run)')
    parser.add_argument('--list', action='store_true',
                        help='print the plan (kind, name, arguments; '
                        'tab-separated) and run nothing')
    add_clip_options(parser, AMP_DTYPES, frames=Settings.frames,
                     size=Settings.size, amp=Settings.amp)
    OPTIONS.add_to(parser)
    args = parse_report_args(parser, argv, 'GPU_REPORT_', DRY_RUN)
    return Settings(**{f.name: getattr(args, f.name)
                       for f in fields(Settings)}), args


# ---------------------------------------------------------------- plan
def bench_step(s: Settings, json_dir: str, name: str, timeout_s: int,
               weight: int, config: str, batch: int, *args: str,
               cfg: Sequence[str] = ()) -> Step:
    """One ``tools/benchmark.py`` measurement, its figures in
    ``json_dir/NAME.json``; ``cfg``: its config overrides."""
    argv = ['tools/benchmark.py', config, '--batch', batch, '--amp', s.amp,
            '--steps', s.steps, '--warmup', s.warmup, '--device', s.device,
            '--frames', s.frames, '--size', s.size, '--json',
            osp.join(json_dir, f'{name}.json')]
    if s.threads:
        argv += ['--threads', s.threads]
    cfg = [*cfg, *(TINY if s.dry_run else ())]
    argv += [*args, *(['--cfg-options', *cfg] if cfg else [])]
    return python_step(name, 'bench', timeout_s, argv, weight=weight)


def runner_steps(s: Settings, work: str) -> List[Step]:
    """The synthetic clips, then ``tools/train.py`` on them."""
    data, root = osp.join(work, 'runner_data'), osp.join(work, 'runner')
    num = s.runner_batch * s.runner_iters
    interval = 1 if s.runner_iters < 20 else 10
    clips = Step('runner_data', 'step', 120, call=partial(
        generate_synthetic_dataset, data, task='direction', num_train=num,
        num_val=0, num_frames=s.frames, size=64, seed=0),
        selected_by='runner')
    cuda = s.device == 'cuda'
    argv = ['tools/train.py', ADAPT, '--work-dir', root, '--no-validate',
            '--seed', '0', *(['--amp'] if cuda else []), '--cfg-options',
            'model.backbone.init_cfg=None',
            f'model.backbone.num_frames={s.frames}',
            f'train_dataloader.batch_size={s.runner_batch}',
            f'train_dataloader.num_workers={s.runner_workers}',
            f'train_dataloader.persistent_workers={s.runner_workers > 0}',
            f'train_dataloader.dataset.ann_file={data}/train_list.txt',
            f'train_dataloader.dataset.data_prefix.video={data}',
            f'train_dataloader.dataset.pipeline.1.clip_len={s.frames}',
            'train_dataloader.dataset.pipeline.1.frame_interval=1',
            'train_cfg.max_epochs=1',
            f'default_hooks.logger.interval={interval}',
            f'log_processor.window_size={interval}',
            'default_hooks.checkpoint.interval=1000000',
            'default_hooks.checkpoint.save_last=False']
    if not cuda:  # AmpOptimWrapper needs a GPU: fp32 with SGD
        argv += ['optim_wrapper._delete_=True',
                 'optim_wrapper.type=OptimWrapper',
                 'optim_wrapper.optimizer.type=SGD',
                 'optim_wrapper.optimizer.lr=0.01',
                 'optim_wrapper.optimizer.momentum=0.9']
    if s.runner_compile:
        argv.append(f'compile.backend={s.compile}')
    argv += TINY if s.dry_run else ()
    train = python_step('runner', 'step', 240, argv, weight=3,
                        needs='runner_data')
    return [clips, train]


def plan(s: Settings, json_dir: str, work: str) -> List[Step]:
    """Every step after the facts, in order: the targets' measurements, the
    Runner, the levers. Timeouts and weights are sized for the GPU."""
    bench = partial(bench_step, s, json_dir)
    big, small = s.big_batch, s.small_batch
    return [
        bench('adaptformer_b32', 120, 1, ADAPT, big),
        bench('adaptformer_b8_stock', 180, 2, ADAPT, small, '--baseline'),
        bench('full_b8', 120, 1, FULL, small),
        bench('linear_probe_b32', 120, 1, LINEAR, big),
        bench('vpt_deep1_b32', 120, 1, VPT, big),
        *runner_steps(s, work),
        bench('lever_compile', 300, 4, ADAPT, big, '--compile', s.compile),
        bench('lever_eager_attn', 120, 1, ADAPT, big,
              cfg=['model.backbone.attn_impl=eager']),
        bench('lever_with_cp', 120, 1, ADAPT, big,
              cfg=['model.backbone.with_cp=True']),
        bench('lever_no_skip_frozen_grad', 120, 1, ADAPT, big,
              cfg=['model.backbone.skip_frozen_grad=False']),
        bench('lever_compile_lp', 240, 3, LINEAR, big, '--compile',
              s.compile),
        bench('lever_adamw_b8', 120, 1, FULL, small, cfg=ADAMW),
        bench('lever_adamw_fused_b8', 120, 1, FULL, small,
              cfg=[*ADAMW, 'optim_wrapper.optimizer.fused=True']),
        bench('lever_sgd_fused_b8', 120, 1, FULL, small,
              cfg=['optim_wrapper.optimizer.fused=True']),
    ]


# ------------------------------------------------------------- targets
Measurements = Mapping[str, dict]


def lookup(bench: Measurements, name: str, *keys: str):
    """``bench[name][key0][key1]...``; None where any is missing."""
    value = bench.get(name)
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def best(bench: Measurements, names: Sequence[str], *keys: str):
    """The largest of the ``names``' values at ``keys``; None if none."""
    values = [lookup(bench, n, *keys) for n in names]
    values = [v for v in values if v is not None]
    return max(values) if values else None


TRAIN = ('model', 'train_clips_per_s')


@dataclass(frozen=True)
class Target:
    """A figure to reach: the best of the measurements ``names`` at
    ``keys`` (divided by the value at ``per``: a measurement's name, then
    keys), ``op`` (``>=`` or ``<=``) ``need``."""
    what: str
    op: str
    need: float
    names: Tuple[str, ...]
    keys: Tuple[str, ...] = TRAIN
    per: Tuple[str, ...] = ()

    def value(self, bench: Measurements) -> Optional[float]:
        value = best(bench, self.names, *self.keys)
        return ratio(value, lookup(bench, *self.per)) if self.per else value

    def met(self, value: Optional[float]) -> Optional[bool]:
        if value is None:
            return None
        return value >= self.need if self.op == '>=' else value <= self.need

    @property
    def source(self) -> str:
        source = ' / '.join(self.names)
        return f'{source} over {".".join(self.per)}' if self.per else source


#: The throughput targets; "best" includes the compiled / fused variants.
TARGETS = (
    Target('AdaptFormer-64 train b32 clips/s', '>=', 450,
           ('adaptformer_b32', 'lever_compile')),
    Target('AdaptFormer-64 / stock train b8', '>=', 5,
           ('adaptformer_b8_stock', ), ('ratio', 'train_speedup')),
    Target('AdaptFormer-64 / stock peak mem b8', '<=', 0.2,
           ('adaptformer_b8_stock', ), ('ratio', 'train_peak_mem_fraction')),
    Target('full fine-tune / stock train b8', '>=', 3,
           ('full_b8', 'lever_adamw_fused_b8', 'lever_sgd_fused_b8'),
           per=('adaptformer_b8_stock', 'baseline', 'train_clips_per_s')),
    Target('linear probe train b32 clips/s', '>=', 900,
           ('linear_probe_b32', 'lever_compile_lp')),
    Target('inference b32 clips/s', '>=', 900,
           ('adaptformer_b32', 'lever_compile'),
           ('model', 'infer_clips_per_s')),
    Target('VPT-deep-1 train b32 clips/s', '>=', 400, ('vpt_deep1_b32', )),
)

#: Levers: (what, measurement with it off, measurement with it on).
LEVERS = (
    ('torch.compile AdaptFormer b32', 'adaptformer_b32', 'lever_compile'),
    ('torch.compile linear probe b32', 'linear_probe_b32',
     'lever_compile_lp'),
    ('fused attention (sdpa vs eager)', 'lever_eager_attn',
     'adaptformer_b32'),
    ('activation checkpointing (with_cp)', 'adaptformer_b32',
     'lever_with_cp'),
    ('no backward through patch embed', 'lever_no_skip_frozen_grad',
     'adaptformer_b32'),
    ('fused AdamW, full fine-tune b8', 'lever_adamw_b8',
     'lever_adamw_fused_b8'),
    ('fused SGD, full fine-tune b8', 'full_b8', 'lever_sgd_fused_b8'),
)


def check_targets(bench: Measurements) -> List[dict]:
    """Each target's value, and whether it is met (None: not measured)."""
    checked = []
    for target in TARGETS:
        value = target.value(bench)
        checked.append(dict(target=target.what, op=target.op,
                            need=target.need, value=value,
                            met=target.met(value), source=target.source))
    return checked


def compare_levers(bench: Measurements) -> List[dict]:
    compared = []
    for what, off, on in LEVERS:
        a, b = lookup(bench, off, *TRAIN), lookup(bench, on, *TRAIN)
        compared.append(dict(lever=what, off=off, on=on,
                             off_train_clips_per_s=a,
                             on_train_clips_per_s=b, speedup=ratio(b, a)))
    return compared


# --------------------------------------------------------------- Runner
def runner_timing(scalars_path: str) -> dict:
    """Mean logged iteration and data time (ms) of the Runner's
    ``scalars.json``, without its first window (workers starting, cuDNN
    autotuning, compiling)."""
    try:
        with open(scalars_path) as f:
            lines = f.read().splitlines()
    except OSError:
        return {}
    entries = []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if 'time' in entry:
            entries.append(entry)
    used = entries[1:] if len(entries) > 1 else entries
    if not used:
        return {}
    return dict(
        logged_windows=len(entries), windows_used=len(used),
        iters=[e.get('iter', e.get('step')) for e in used],
        iter_time_ms=1e3 * sum(e['time'] for e in used) / len(used),
        data_time_ms=1e3 * sum(e.get('data_time', 0)
                               for e in used) / len(used))


def compare_runner(status: str, timing: dict, bench: Measurements,
                   compiled: bool) -> dict:
    """The Runner's iteration time over the benchmark's step time (the
    compiled benchmark's for a compiled Runner)."""
    reference = 'lever_compile' if compiled else 'adaptformer_b32'
    bench_ms = lookup(bench, reference, 'model', 'train_step_ms')
    runner = dict(status=status, **timing, benchmark=reference,
                  benchmark_step_ms=bench_ms)
    if runner.get('iter_time_ms') and bench_ms:
        runner['runner_over_benchmark'] = runner['iter_time_ms'] / bench_ms
        runner['within_15_percent'] = \
            abs(runner['runner_over_benchmark'] - 1) <= 0.15
    return runner


# -------------------------------------------------------------- summary
def _figures(label: str, status: str, batch, m: dict) -> tuple:
    return (label, m.get('error') or status, fmt(batch, '{}'),
            fmt(m.get('train_clips_per_s')), fmt(m.get('train_step_ms')),
            fmt(m.get('train_peak_mem_mib'), '{:.0f}'),
            fmt(m.get('infer_clips_per_s')),
            fmt(m.get('train_tflops_per_s')))


def measurement_rows(steps: Mapping[str, Step],
                     outcomes: Mapping[str, Outcome],
                     bench: Measurements) -> List[tuple]:
    rows = [('measurement', 'status', 'batch', 'train clips/s', 'step ms',
             'peak MiB', 'infer clips/s', 'train TFLOP/s')]
    for name, outcome in outcomes.items():
        if steps[name].kind != 'bench':
            continue
        status = 'ok' if name in bench else outcome.status
        batch = lookup(bench, name, 'batch')
        rows.append(_figures(name, status, batch,
                             lookup(bench, name, 'model') or {}))
        stock = lookup(bench, name, 'baseline')
        if stock:
            rows.append(_figures('  stock mmaction2', 'ok', batch, stock))
    return rows


def runner_lines(runner: dict) -> List[str]:
    if 'iter_time_ms' in runner:
        lines = [f'  runner logged iteration time '
                 f'{runner["iter_time_ms"]:.1f} ms (data '
                 f'{runner["data_time_ms"]:.1f} ms; mean of '
                 f'{runner["windows_used"]} logged windows after the first)']
    else:
        lines = [f'  runner: no logged iteration time (step '
                 f'{runner["status"]})']
    lines.append(f'  benchmark {runner["benchmark"]} train step '
                 f'{fmt(runner["benchmark_step_ms"])} ms')
    if 'runner_over_benchmark' in runner:
        within = 'within' if runner['within_15_percent'] else 'NOT within'
        lines.append(f'  runner / benchmark = '
                     f'{runner["runner_over_benchmark"]:.2f}: {within} 15%')
    else:
        lines.append('  runner / benchmark: n/a')
    return lines


def summarise(steps: Mapping[str, Step], outcomes: Mapping[str, Outcome],
              bench: Measurements, machine: dict, runner: dict,
              dry_run: bool) -> Tuple[str, dict]:
    """The summary table and the report's JSON."""
    targets, levers = check_targets(bench), compare_levers(bench)
    kind = 'DRY RUN: CPU, tiny shapes; not GPU figures' if dry_run \
        else 'GPU run'
    target_rows = [('target', 'need', 'best measured', 'met',
                    'measured/need', 'from')]
    for t in targets:
        target_rows.append((
            t['target'], f'{t["op"]} {t["need"]}', fmt(t['value'], '{:.3g}'),
            {None: 'n/a', True: 'yes', False: 'NO'}[t['met']],
            fmt(ratio(t['value'], t['need']), '{:.2f}'), t['source']))
    lever_rows = [('lever', 'off clips/s', 'on clips/s', 'on/off', 'off MiB',
                   'on MiB', 'infer on/off')]
    for lever in levers:
        off, on = lever['off'], lever['on']
        lever_rows.append((
            lever['lever'], fmt(lever['off_train_clips_per_s']),
            fmt(lever['on_train_clips_per_s']),
            fmt(lever['speedup'], '{:.2f}x'),
            fmt(lookup(bench, off, 'model', 'train_peak_mem_mib'), '{:.0f}'),
            fmt(lookup(bench, on, 'model', 'train_peak_mem_mib'), '{:.0f}'),
            fmt(ratio(lookup(bench, on, 'model', 'infer_clips_per_s'),
                      lookup(bench, off, 'model', 'infer_clips_per_s')),
                '{:.2f}x')))
    not_ok = ', '.join(f'{n} ({o.status})' for n, o in outcomes.items()
                       if not o.ok) or 'none'
    lines = [
        f'GPU report ({kind}); device {machine.get("gpu_name") or "cpu"}, '
        f'driver {machine.get("driver")}, torch {machine.get("torch")} '
        f'(CUDA {machine.get("torch_cuda")}, cuDNN {machine.get("cudnn")})',
        '', 'measurements (tools/benchmark.py):',
        format_table(measurement_rows(steps, outcomes, bench)),
        '', 'targets ("best" includes the compiled / fused variants):',
        format_table(target_rows, 'lrrrrl'),
        '', 'levers (not available in tools/benchmark.py, not measured: '
        'frozen weights stored in bf16, explicit SDPA backend, CUDA graphs '
        '/ compile modes):', format_table(lever_rows),
        '', f'Runner vs benchmark (tools/train.py {ADAPT}, synthetic clips):',
        *runner_lines(runner), '', f'steps not ok: {not_ok}']
    report = dict(
        dry_run=dry_run, machine=machine,
        steps={n: dict(kind=steps[n].kind, status=o.status, rc=o.rc,
                       seconds=o.seconds, reason=o.reason,
                       command=steps[n].command)
               for n, o in outcomes.items()},
        measurements=dict(bench), targets=targets, levers=levers,
        runner=runner)
    return '\n'.join(lines), report


def load_measurements(json_dir: str) -> Dict[str, dict]:
    """``NAME.json`` of each measurement, by name."""
    bench = {}
    for path in sorted(glob.glob(osp.join(json_dir, '*.json'))):
        result = load_json(path)
        if result is None:
            print(f'unreadable {path}')
        else:
            bench[osp.splitext(osp.basename(path))[0]] = result
    return bench


def keep_runner_logs(root: str, dst: str) -> None:
    """The Runner's text log and its per-interval scalars, into ``dst``."""
    for path in glob.glob(osp.join(root, '*', '*.log')) + glob.glob(
            osp.join(root, '*', 'vis_data', 'scalars.json')):
        shutil.copy(path, dst)


# ----------------------------------------------------------------- main
def main(argv=None) -> int:
    s, args = parse_args(argv)
    if args.list:
        print(format_plan(select(plan(
            s, osp.join(args.out or '<out>', 'bundle', 'benchmarks', 'gpu'),
            args.work or '<work>'), args.only)))
        return 0
    out, work, temporary = temp_dirs(args.out, args.work, 'gpu_report')
    bundle = osp.join(out, 'bundle')
    json_dir = osp.join(bundle, 'benchmarks', 'gpu')
    run_logs = osp.join(bundle, 'logs', 'runner')
    for folder in (json_dir, run_logs):
        os.makedirs(folder, exist_ok=True)
    os.environ['PYTHONUNBUFFERED'] = '1'
    runner = StepRunner(osp.join(bundle, 'logs', 'steps'),
                        Budget(s.budget_s, RESERVE_S, s.min_step_s),
                        'gpu_report')
    runner.say(f'OUT {out}; dry run {s.dry_run}; device {s.device}; clips '
               f'{s.frames}x{s.size}; amp {s.amp}; budget {s.budget_s}s; '
               f'python {sys.executable}')
    facts = python_step('facts', 'setup', 120, [
        '-m', 'adaptformer_mm.benchmark.gpu.facts',
        osp.join(out, 'machine.json'), osp.join(out, 'machine.txt')])
    runner.run(facts, budgeted=False)
    for step in select(plan(s, json_dir, work), args.only):
        if step.kind == 'bench':  # never report a stale figure
            stale = osp.join(json_dir, f'{step.name}.json')
            if osp.exists(stale):
                os.remove(stale)
        runner.run(step)
        if step.name == 'runner':
            keep_runner_logs(osp.join(work, 'runner'), run_logs)

    runner.say('summary')
    bench = load_measurements(json_dir)
    status = runner.outcomes.get('runner')
    text, report = summarise(
        runner.steps, runner.outcomes, bench,
        load_json(osp.join(out, 'machine.json')) or {},
        compare_runner(status.status if status else 'not run',
                       runner_timing(osp.join(run_logs, 'scalars.json')),
                       bench, s.runner_compile), s.dry_run)
    print(text)
    write_text(osp.join(out, 'summary.txt'), text)
    write_json(osp.join(out, 'gpu_report.json'), report)
    write_tar(osp.join(out, 'gpu_report.tar.gz'), [
        (out, ['machine.txt', 'machine.json', 'summary.txt',
               'gpu_report.json']), (bundle, ['benchmarks', 'logs'])])
    if temporary:
        shutil.rmtree(work, ignore_errors=True)
    runner.say(f'done; results in {out}: ' + ' '.join(sorted(
        f for f in os.listdir(out) if osp.isfile(osp.join(out, f)))))
    return 0


if __name__ == '__main__':
    sys.exit(main())
