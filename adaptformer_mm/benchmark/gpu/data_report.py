"""The GPU report of the data path, in one run within a time budget.

How fast each data path feeds training, and whether GPU decoding gives
decord's output:

    python -m adaptformer_mm.benchmark.gpu.data_report [--dry-run]
        [--out DIR] [--work DIR] [--videos DIR] [--workers N [N ...]]
        [--samples-per-worker N] [--min-samples N] [--num-videos N]
        [--k400-video-args='ARGS'] [--ssv2-video-args='ARGS']
        [--target-rate R] [--budget-s S] [--wheels DIR] [--site DIR]
        [--ffmpeg PATH] [--ffmpeg-libs DIR]

(``bash tools/gpu_data_report.sh`` first installs the wheels carried in
``.whl/`` where the OpenMMLab stack does not import.) Every option not given
takes the environment variable ``GPU_DATA_REPORT_<OPTION>``
(``--num-videos``: ``GPU_DATA_REPORT_NUM_VIDEOS``; ``--target-rate``:
``GPU_DATA_REPORT_TARGET``; ``--out``: ``OUT``), else its default;
``--dry-run`` changes the defaults to a CPU flow check: few samples,
workers 1 and 0, tiny videos; the GPU libraries are neither installed nor
measured (recorded as skipped).

Steps, each under a time limit; a step starts only while
``--budget-s`` has 15 s left (else it is recorded as skipped):

1. the optional wheels, each on its own (torchcodec, PyNvVideoCodec,
   imageio-ffmpeg) from ``--wheels`` into ``--site``; what fails is
   recorded and the run goes on. A folder of FFmpeg shared libraries for
   torchcodec (``--ffmpeg-libs``, default ``WHEELS/ffmpeg-libs``) goes on
   ``LD_LIBRARY_PATH``;
2. the machine's facts (:mod:`.facts`, with what GPU decoding needs);
3. test videos by ``tools/misc/make_benchmark_videos.py`` (K400-like H.264
   640x272 x 300 frames, SSv2-like VP9 426x240 x 48 frames at 12 fps, the
   commands of docs/benchmarks.md) and the K400 copies re-encoded by
   ``tools/prepare_videos.py`` for the fast path; ``--videos DIR`` reuses
   ``DIR/k400``, ``DIR/ssv2`` (each with ``videos.txt``) and
   ``DIR/k400_256`` instead;
4. configs: the swap that ``configs/_base_/datasets/ssv2_video_gpu-decode.py``
   makes of ``ssv2_video.py`` (``GPUDecodeInit`` / ``GPUDecode`` for
   ``DecordInit`` / ``DecordDecode``, spawned workers), checked, and made of
   ``kinetics400_video.py``; every measurement's config and overrides are
   loaded and checked before anything is timed;
5. one probe a GPU library, in its own process (:mod:`.decoders`);
6. output equality, each GPU library that passed its probe vs decord on
   the same files (:mod:`.decoders`; a decord-vs-decord row checks the
   comparison itself);
7. ``tools/benchmark_data.py``, one ``--json`` a measurement, at each
   ``--workers`` count: the fast CPU config with ``--baseline`` (the stock
   decord pipeline in the same run) and the GPU config with each library
   that passed its probe.

Written under ``--out``: ``gpu_data_report.json`` (everything, combined),
``summary.txt`` (the table printed at the end), ``machine_facts.txt``,
``gpu_data_report.log`` (what this run printed) and
``gpu_data_report_raw.tar.gz`` (each measurement's JSON, the logs, probes,
the equality report, the configs).
"""
import argparse
import contextlib
import fnmatch
import glob
import os
import os.path as osp
import re
import shlex
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, fields
from functools import partial
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from mmengine.config import Config, DictAction

from ...cli import SignatureOptions, tool_parser
from ...datasets.gpu_decode import BACKENDS
from ...datasets.pipeline import innermost_dataset_cfg
from .decoders import import_failure, probe_result
from .steps import (REPO, Budget, Step, StepRunner, Tee, add_run_options,
                    format_table, load_json, parse_report_args, python_step,
                    run_process, temp_dirs, write_json, write_tar,
                    write_text)

LIBS = tuple(BACKENDS)  # torchcodec, pynvvideocodec
DATASETS = ('k400', 'ssv2')
#: The optional wheels: name -> (module, wheel file pattern).
OPTIONAL_WHEELS = {
    'torchcodec': ('torchcodec', 'torchcodec-*.whl'),
    'pynvvideocodec': ('PyNvVideoCodec', 'pynvvideocodec-*.whl'),
    'imageio_ffmpeg': ('imageio_ffmpeg', 'imageio_ffmpeg-*.whl'),
}
CFG_DIR = osp.join(REPO, 'configs', '_base_', 'datasets')
K400_GPU_CONFIG = 'kinetics400_video_gpu-decode.py'
#: What the GPU-decode version of a dataset config swaps in.
GPU_SWAP = {'DecordInit': dict(type='GPUDecodeInit', backend='auto'),
            'DecordDecode': dict(type='GPUDecode')}
#: A step starts only with this many seconds of the budget left.
MIN_STEP_S = 15


@dataclass(frozen=True)
class Settings:
    """What the report measures with; the defaults are the GPU run's.
    Workers: 16 first (the host's figure for the target), then 1 (cheap,
    the per-worker cost): what the time budget cuts, if anything, is 8."""
    workers: Tuple[int, ...] = (16, 1, 8)
    samples_per_worker: int = 32
    min_samples: int = 64
    num_videos: int = 16
    k400_video_args: str = '--size 640x272 --frames 300'
    ssv2_video_args: str = '--size 426x240 --frames 48 --fps 12 --codec vp9'
    target_rate: float = 450.
    budget_s: int = 420
    videos: Optional[str] = None
    wheels: str = '.whl'
    site: str = '/tmp/site'
    ffmpeg: Optional[str] = None
    ffmpeg_libs: Optional[str] = None
    dry_run: bool = False

    @property
    def equality_videos(self) -> int:
        return 2 if self.dry_run else 4

    def samples(self, workers: int) -> int:
        return max(self.samples_per_worker * workers, self.min_samples)


#: The dry run's defaults.
DRY_RUN = dict(workers=[1, 0], samples_per_worker=2, min_samples=4,
               num_videos=3, k400_video_args='--size 128x64 --frames 40',
               ssv2_video_args='--size 96x64 --frames 40 --fps 12 '
               '--codec vp9')

OPTIONS = SignatureOptions(Settings, dict(
    samples_per_worker='timed clips a worker',
    min_samples='timed clips a measurement, at least',
    num_videos='test videos a dataset',
    k400_video_args='make_benchmark_videos.py options after --num of the '
    'K400-like videos',
    ssv2_video_args='the same, SSv2-like videos',
    target_rate='training clips/s the data path must feed',
    budget_s='seconds for all steps',
    videos='reuse the test videos in DIR/k400, DIR/ssv2, DIR/k400_256',
    wheels='folder of the carried wheels',
    site='folder the wheels are installed into',
    ffmpeg='ffmpeg binary for the test videos (default: PATH, then '
    'imageio-ffmpeg\'s)',
    ffmpeg_libs='folder of FFmpeg shared libraries put on '
    'LD_LIBRARY_PATH (default WHEELS/ffmpeg-libs)'))


def parse_args(argv=None) -> Tuple[Settings, argparse.Namespace]:
    parser = tool_parser(__doc__)
    add_run_options(parser, 'gpu_data_report', DRY_RUN)
    parser.add_argument('--workers', type=int, nargs='+',
                        default=list(Settings.workers),
                        help='DataLoader workers of the measurements, in '
                        'order (default 16 1 8)')
    OPTIONS.add_to(parser)
    args = parse_report_args(parser, argv, 'GPU_DATA_REPORT_', DRY_RUN,
                             {'target_rate': 'GPU_DATA_REPORT_TARGET'})
    values = {f.name: getattr(args, f.name) for f in fields(Settings)}
    values['workers'] = tuple(values['workers'])
    return Settings(**values), args


# -------------------------------------------------------------- configs
def gpu_decode_config(cfg: Config) -> Config:
    """``cfg`` with its decord steps swapped for GPU decoding
    (:data:`GPU_SWAP`) and its workers spawned (a forked worker cannot
    use CUDA)."""
    for split in ('train', 'val', 'test'):
        pipe = [dict(GPU_SWAP[s['type']]) if s['type'] in GPU_SWAP else s
                for s in cfg[f'{split}_pipeline']]
        cfg[f'{split}_pipeline'] = pipe
        cfg[f'{split}_dataloader']['dataset']['pipeline'] = pipe
        cfg[f'{split}_dataloader']['multiprocessing_context'] = 'spawn'
    return cfg


def make_gpu_configs(work: str, cfg_dir: str = CFG_DIR) -> str:
    """Write ``WORK/configs/kinetics400_video_gpu-decode.py``, made of
    ``kinetics400_video.py`` by the swap that gives
    ``ssv2_video_gpu-decode.py`` from ``ssv2_video.py`` (checked); its
    path."""
    ssv2 = gpu_decode_config(Config.fromfile(osp.join(cfg_dir,
                                                      'ssv2_video.py')))
    ref = Config.fromfile(osp.join(cfg_dir, 'ssv2_video_gpu-decode.py'))
    for split in ('train', 'val', 'test'):
        if ssv2[f'{split}_pipeline'] != ref[f'{split}_pipeline'] or \
                ref[f'{split}_dataloader'].multiprocessing_context != 'spawn':
            raise ValueError(f'ssv2_video_gpu-decode.py: {split}_pipeline or '
                             f'{split}_dataloader.multiprocessing_context '
                             'is not the GPU decoding swap of ssv2_video.py')
    k400 = gpu_decode_config(Config.fromfile(
        osp.join(cfg_dir, 'kinetics400_video.py')))
    out = osp.join(work, 'configs', K400_GPU_CONFIG)
    os.makedirs(osp.dirname(out), exist_ok=True)
    k400.dump(out)
    Config.fromfile(out)
    print(f'wrote {out} (the swap reproduces ssv2_video_gpu-decode.py)')
    return out


@dataclass(frozen=True)
class Spec:
    """What a measurement reads: a config, its data root and overrides."""
    config: str
    data_root: str
    options: Tuple[str, ...]


def bench_spec(dataset: str, path: str, videos: str, work: str) -> Spec:
    """The ``fast`` CPU path (the re-encoded copies for K400) or the
    ``gpu-LIB`` path of ``dataset`` on the test videos."""
    if path == 'fast':
        name = {'k400': 'kinetics400', 'ssv2': 'ssv2'}[dataset]
        root = osp.join(videos, 'k400_256' if dataset == 'k400' else 'ssv2')
        prefix = 'train_dataloader.dataset.dataset'  # RepeatedAugDataset
        return Spec(osp.join(CFG_DIR, f'{name}_video_fast.py'), root, (
            f'{prefix}.ann_file={osp.join(videos, dataset, "videos.txt")}',
            f'{prefix}.data_prefix.video='))
    lib = path[len('gpu-'):]
    config = osp.join(work, 'configs', K400_GPU_CONFIG) \
        if dataset == 'k400' else osp.join(CFG_DIR, 'ssv2_video_gpu-decode.py')
    root = osp.join(videos, dataset)
    return Spec(config, root, (
        f'train_dataloader.dataset.ann_file={osp.join(root, "videos.txt")}',
        'train_dataloader.dataset.data_prefix.video=',
        f'train_dataloader.dataset.pipeline.0.backend={lib}'))


def check_specs(specs: Mapping[str, Spec]) -> None:
    """Load each spec's config with its overrides; its annotation file and
    data root must exist, a GPU path must decode with the named backend in
    spawned workers. AssertionError naming the spec otherwise."""
    for name, spec in specs.items():
        cfg = Config.fromfile(spec.config)
        options = {}
        for option in spec.options:
            key, value = option.split('=', 1)
            options[key] = DictAction._parse_iterable(value)
        cfg.merge_from_dict(options)
        ds = innermost_dataset_cfg(cfg.train_dataloader.dataset)
        assert osp.isfile(ds.ann_file), f'{name}: no {ds.ann_file}'
        assert osp.isdir(spec.data_root), \
            f'{name}: no folder {spec.data_root}'
        first = ds.pipeline[0]
        backend = options.get('train_dataloader.dataset.pipeline.0.backend')
        if backend is not None:
            assert first['type'] == 'GPUDecodeInit', (name, first)
            assert first['backend'] == backend, (name, first)
            assert cfg.train_dataloader.multiprocessing_context == 'spawn', \
                name
        print(f'{name}: {osp.relpath(spec.config, REPO)} ok, first step '
              f'{dict(first)}')


# ------------------------------------------------------------- install
def import_error(module: str, timeout_s: int = 60) -> Optional[str]:
    """Why ``module`` does not import in a new interpreter (its last error
    line), or None when it does."""
    try:
        proc = subprocess.run([sys.executable, '-c', f'import {module}'],
                              capture_output=True, text=True,
                              timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return f'import {module} took over {timeout_s}s'
    if proc.returncode == 0:
        return None
    lines = proc.stderr.strip().splitlines()
    return lines[-1] if lines else f'exit status {proc.returncode}'


def prepend_env(name: str, folder: str) -> None:
    """``folder`` first on the path variable ``name`` (of the processes
    started from here on)."""
    rest = os.environ.get(name)
    os.environ[name] = folder + (os.pathsep + rest if rest else '')


def required_install(site: str) -> dict:
    """Where the OpenMMLab stack comes from: the wheels installed into
    ``site`` (by the launcher), or what was installed already."""
    import mmengine
    if osp.abspath(mmengine.__file__).startswith(osp.abspath(site) + os.sep):
        return dict(status='ok', reason=f'installed from wheels into {site}')
    return dict(status='skipped',
                reason='OpenMMLab stack and decord already import')


def find_wheels(folder: str, pattern: str) -> List[str]:
    """The wheels in ``folder`` whose name matches ``pattern``, any case."""
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return sorted(osp.join(folder, n) for n in names
                  if fnmatch.fnmatch(n.lower(), pattern))


def install_optional(lib: str, s: Settings, log_dir: str) -> dict:
    """Install the optional wheel of ``lib`` (:data:`OPTIONAL_WHEELS`)
    into ``s.site`` unless its module imports: the status and why."""
    module, pattern = OPTIONAL_WHEELS[lib]
    if import_error(module) is None:
        return dict(status='skipped', reason='already importable')
    if s.dry_run and lib != 'imageio_ffmpeg':
        return dict(status='skipped',
                    reason='dry run: GPU libraries not installed')
    found = find_wheels(s.wheels, pattern)
    if not found:
        return dict(status='failed',
                    reason=f'no wheel {pattern} in {s.wheels}')
    names = ' '.join(osp.basename(w) for w in found)
    log_path = osp.join(log_dir, f'install_{lib}.log')
    with open(log_path, 'w') as log:
        rc = run_process([sys.executable, '-m', 'pip', 'install', '-q',
                          '--no-index', '--no-deps', '--no-compile',
                          '--no-cache-dir', '--upgrade', '--target', s.site,
                          *found], log, 120)
    if rc != 0:
        return dict(status='failed', reason=f'pip install {names} failed: '
                    f'{_last_line(log_path)}')
    if s.site not in os.environ.get('PYTHONPATH', '').split(os.pathsep):
        prepend_env('PYTHONPATH', s.site)
    error = import_error(module)
    if error:
        return dict(status='failed',
                    reason=f'installed {names}; import {module} failed: '
                    f'{error}')
    return dict(status='ok', reason=f'installed {names}')


def _last_line(path: str) -> str:
    with open(path, errors='replace') as f:
        lines = [line.strip() for line in f if line.strip()]
    return lines[-1] if lines else ''


# ---------------------------------------------------------------- run
@dataclass(frozen=True)
class Bench:
    """One measurement: a dataset's data path at a worker count."""
    dataset: str
    path: str
    workers: int

    @property
    def name(self) -> str:
        return f'bench_{self.dataset}_{self.path}_w{self.workers}'


class DataReport:
    """One run of the report: ``run`` takes the steps in order, ``report``
    assembles what they wrote."""

    def __init__(self, s: Settings, out: str, work: str):
        self.s, self.out, self.work = s, out, work
        self.videos = osp.abspath(s.videos or osp.join(work, 'videos'))
        for sub in ('runs', 'probes', 'configs'):
            os.makedirs(osp.join(work, sub), exist_ok=True)
        self.runner = StepRunner(osp.join(work, 'logs'),
                                 Budget(s.budget_s, min_s=MIN_STEP_S),
                                 'gpu_data_report')
        self.install: Dict[str, dict] = {}

    def say(self, message: str) -> None:
        self.runner.say(message)

    def run(self) -> None:
        s = self.s
        self.say(f'OUT {self.out}, work {self.work}, dry run {s.dry_run}')
        self.say(f'workers: {" ".join(map(str, s.workers))}; samples: '
                 f'{s.samples_per_worker} per worker, >= {s.min_samples}; '
                 f'videos: {s.num_videos}; budget {s.budget_s}s')
        self.install_wheels()
        self.runner.run(python_step('facts', 'setup', 60, [
            '-m', 'adaptformer_mm.benchmark.gpu.facts', '--video',
            *(['--ffmpeg', s.ffmpeg] if s.ffmpeg else []),
            osp.join(self.work, 'facts.json'),
            osp.join(self.out, 'machine_facts.txt')]))
        self.make_videos()
        have_videos = self.have_videos()
        if not have_videos:
            self.say(f'videos: missing under {self.videos} (see '
                     'logs/videos_*.log)')
        self.runner.run(Step('configs', 'setup', 60,
                             call=partial(make_gpu_configs, self.work)))
        if have_videos:
            specs = {f'{ds}_{path}': bench_spec(ds, path, self.videos,
                                                self.work)
                     for ds in DATASETS for path in ('fast', 'gpu-torchcodec')}
            self.runner.run(Step('config_check', 'setup', 60,
                                 call=partial(check_specs, specs)))
        probes = self.probe_libraries()
        self.check_equality(have_videos, probes)
        for workers in s.workers:
            for ds in DATASETS:
                self.measure(Bench(ds, 'fast', workers), have_videos, None)
                for lib in LIBS:
                    self.measure(Bench(ds, f'gpu-{lib}', workers),
                                 have_videos, probe_result(probes[lib], ds))

    def install_wheels(self) -> None:
        """Record where the stack comes from; install the optional wheels
        (with the FFmpeg libraries on the loader's path first)."""
        libs = self.s.ffmpeg_libs or osp.join(self.s.wheels, 'ffmpeg-libs')
        if osp.isdir(libs):
            prepend_env('LD_LIBRARY_PATH', osp.abspath(libs))
            self.say(f'install: FFmpeg libraries from {libs} on '
                     'LD_LIBRARY_PATH')
        self.install['required'] = required_install(self.s.site)
        for lib in OPTIONAL_WHEELS:
            self.install[lib] = install_optional(lib, self.s,
                                                 self.runner.log_dir)
        for lib, entry in self.install.items():
            self.say(f'install {lib}: {entry["status"]} ({entry["reason"]})')

    def make_videos(self) -> None:
        s, v = self.s, self.videos
        if s.videos:
            self.say(f'videos: reusing {v}')
            return
        ff = ['--ffmpeg', s.ffmpeg] if s.ffmpeg else []
        make = 'tools/misc/make_benchmark_videos.py'

        def videos(ds, args):
            return python_step(f'videos_{ds}', 'setup', 150, [
                make, osp.join(v, ds), '--num', s.num_videos,
                *shlex.split(args), *ff], meta=dict(dataset=ds))

        copies = python_step('videos_k400_256', 'setup', 120, [
            'tools/prepare_videos.py', osp.join(v, 'k400'),
            osp.join(v, 'k400_256'), '--measure', 0, *ff],
            needs='videos_k400', meta=dict(dataset='k400'))
        # The SSv2 videos are written while the K400 ones are written and
        # re-encoded.
        with ThreadPoolExecutor(1) as pool:
            ssv2 = pool.submit(self.runner.run,
                               videos('ssv2', s.ssv2_video_args))
            self.runner.run(videos('k400', s.k400_video_args))
            self.runner.run(copies)
            ssv2.result()

    def have_videos(self) -> bool:
        lists = [osp.join(self.videos, ds, 'videos.txt') for ds in DATASETS]
        return all(osp.isfile(p) and osp.getsize(p) for p in lists) and \
            bool(glob.glob(osp.join(self.videos, 'k400_256', '*.mp4')))

    def probe_libraries(self) -> Dict[str, Optional[dict]]:
        """Each GPU library's probe report (one written here when the
        library does not import)."""
        first = {ds: sorted(glob.glob(osp.join(self.videos, ds, f'*.{ext}')))
                 for ds, ext in (('k400', 'mp4'), ('ssv2', 'webm'))}
        probes = {}
        for lib in LIBS:
            out = osp.join(self.work, 'probes', f'{lib}.json')
            error = import_error(BACKENDS[lib].module)
            if error:
                write_json(out, import_failure(lib, error))
                self.say(f'probe {lib}: does not import ({error})')
            else:
                self.runner.run(python_step(f'probe_{lib}', 'setup', 90, [
                    '-m', 'adaptformer_mm.benchmark.gpu.decoders', 'probe',
                    lib, out, *(f'{ds}={videos[0]}'
                                for ds, videos in first.items() if videos)]))
            probes[lib] = load_json(out)
        return probes

    def check_equality(self, have_videos: bool,
                       probes: Mapping[str, Optional[dict]]) -> None:
        backends = ['decord'] + [
            lib for lib in LIBS if not self.s.dry_run and any(
                probe_result(probes[lib], ds) is None for ds in DATASETS)]
        configs = {
            'k400': (osp.join(CFG_DIR, 'kinetics400_video.py'),
                     osp.join(self.work, 'configs', K400_GPU_CONFIG)),
            'ssv2': (osp.join(CFG_DIR, 'ssv2_video.py'),
                     osp.join(CFG_DIR, 'ssv2_video_gpu-decode.py'))}
        step = python_step('equality', 'setup', 150, [
            '-m', 'adaptformer_mm.benchmark.gpu.decoders', 'equality',
            osp.join(self.work, 'equality.json'), '--videos',
            self.s.equality_videos, '--backends', ','.join(backends),
            *(f'{ds}={stock},{gpu},{osp.join(self.videos, ds)}'
              for ds, (stock, gpu) in configs.items())])
        if have_videos:
            self.runner.run(step)
        else:
            self.runner.skip(step, 'no test videos')

    def bench_step(self, bench: Bench) -> Step:
        spec = bench_spec(bench.dataset, bench.path, self.videos, self.work)
        baseline = []
        if bench.path == 'fast':
            baseline = ['--baseline']
            if bench.dataset == 'k400':  # the originals of the copies
                baseline += ['--baseline-data-root',
                             osp.join(self.videos, 'k400')]
        argv = ['tools/benchmark_data.py', spec.config, '--num-workers',
                bench.workers, '--samples', self.s.samples(bench.workers),
                '--data-root', spec.data_root, '--target-rate',
                self.s.target_rate, *baseline, '--json',
                osp.join(self.work, 'runs', f'{bench.name}.json'),
                '--cfg-options', *spec.options]
        # GPU runs pay for spawning workers (a CUDA context each).
        timeout_s = 90 if bench.path == 'fast' else 120
        return python_step(bench.name, 'bench', timeout_s, argv,
                           meta=asdict(bench))

    def measure(self, bench: Bench, have_videos: bool,
                probe_failure: Optional[str]) -> None:
        """Run ``bench``, or record why it is skipped."""
        step = self.bench_step(bench)
        gpu = bench.path != 'fast'
        if gpu and self.s.dry_run:
            self.runner.skip(step, 'dry run: GPU libraries not measured')
        elif not have_videos:
            self.runner.skip(step, 'no test videos')
        elif gpu and probe_failure:
            self.runner.skip(step, f'probe failed: {probe_failure}')
        else:
            self.runner.run(step)

    def report(self) -> dict:
        return assemble(self.work, step_records(self.runner), self.install,
                        self.s, self.videos, self.runner.budget.elapsed())


# ------------------------------------------------------------ assembly
ERROR_LINE = re.compile(r'^(\w+\.)*\w*(Error|Exception|Warning|Interrupt)\b.*')


def read_lines(path: str) -> List[str]:
    try:
        with open(path, errors='replace') as f:
            return [line.rstrip() for line in f if line.strip()]
    except OSError:
        return []


def log_reason(path: str) -> Optional[str]:
    """The last exception line of the log ``path``, else its last line."""
    lines = read_lines(path)
    if not lines:
        return None
    errors = [line for line in lines if ERROR_LINE.match(line.strip())
              and 'Warning' not in line.split(':')[0]]
    return (errors or lines)[-1][:600]


def log_warnings(path: str) -> List[str]:
    """The decoding warnings of the log ``path`` (at most 10)."""
    found = {line.strip().split('Warning: ', 1)[-1]
             for line in read_lines(path)
             if 'Warning' in line and any(
                 w in line for w in ('GPUDecode', 'torchcodec', 'CPU'))}
    return sorted(found)[:10]


def step_records(runner: StepRunner) -> List[dict]:
    """Each step's outcome, with what it measured and, for a step that
    failed, the error its log ends with."""
    records = []
    for name, outcome in runner.outcomes.items():
        meta = runner.steps[name].meta
        record = dict(name=name, group=runner.steps[name].kind,
                      dataset=meta.get('dataset'), path=meta.get('path'),
                      workers=meta.get('workers'), status=outcome.status,
                      rc=outcome.rc, seconds=outcome.seconds,
                      reason=outcome.reason)
        if outcome.status in ('failed', 'timeout'):
            record['log_reason'] = log_reason(runner.log_path(name))
        records.append(record)
    return records


def _row(record: dict, path: str, entry: dict, **extra) -> dict:
    return dict(dataset=record['dataset'], path=path,
                workers=record['workers'], status='ok',
                clips_per_s=entry['clips_per_s'],
                per_worker=entry['clips_per_s_per_worker'],
                clips=entry['clips'], seconds=entry['seconds'], **extra)


def measurement_rows(records: Sequence[dict],
                     work: str) -> Tuple[List[dict], List[dict]]:
    """The measurements (each step with its JSON) and the table's rows (the
    stock pipeline of a ``--baseline`` run as a row of its own), with each
    row's rate over the stock one at the same dataset and workers."""
    runs, rows = [], []
    for record in records:
        if record['group'] != 'bench':
            continue
        name = record['name']
        result = load_json(osp.join(work, 'runs', f'{name}.json'))
        run = dict(record, result=result, warnings=log_warnings(
            osp.join(work, 'logs', f'{name}.log')))
        if record['status'] == 'ok' and result is None:
            run.update(status='failed', reason='no JSON written')
        runs.append(run)
        if result is None:
            rows.append(dict(dataset=record['dataset'], path=record['path'],
                             workers=record['workers'], status=run['status'],
                             reason=run.get('log_reason') or run['reason']))
            continue
        if 'baseline' in result:
            rows.append(_row(record, 'stock', result['baseline']))
        rows.append(_row(record, record['path'], result,
                         warnings=run['warnings'] or None))
    stock = {(r['dataset'], r['workers']): r['clips_per_s'] for r in rows
             if r['path'] == 'stock'}
    for row in rows:
        base = stock.get((row['dataset'], row['workers']))
        if row.get('clips_per_s') is not None and base:
            row['vs_stock'] = row['clips_per_s'] / base
    return runs, rows


def library_states(probes: Mapping[str, Optional[dict]],
                   records: Sequence[dict], install: Mapping[str, dict],
                   dry_run: bool) -> Dict[str, dict]:
    """Each GPU library: ok, failed (why) or skipped (the dry run)."""
    libraries = {}
    for lib, probe in probes.items():
        step = next((r for r in records if r['name'] == f'probe_{lib}'), {})
        if dry_run:
            status, reason = 'skipped', 'dry run: GPU libraries not measured'
            if probe and probe.get('reason'):
                reason += f' (on this machine: {probe["reason"]})'
        elif probe is None:
            status = 'failed'
            reason = step.get('log_reason') or 'probe wrote nothing'
        elif probe.get('reason'):
            status, reason = 'failed', probe['reason']
        else:
            status, reason = 'ok', None
        libraries[lib] = dict(status=status, reason=reason,
                              install=install.get(lib), probe=probe)
    return libraries


def best_paths(rows: Sequence[dict], target: float) -> Dict[str, dict]:
    """A dataset's fastest path at its largest measured worker count, and
    whether it feeds ``target`` clips/s."""
    best = {}
    for ds in DATASETS:
        ok = [r for r in rows if r['dataset'] == ds and r.get('clips_per_s')]
        if not ok:
            best[ds] = dict(status='no measurement')
            continue
        top = max(r['workers'] for r in ok)
        row = max((r for r in ok if r['workers'] == top),
                  key=lambda r: r['clips_per_s'])
        best[ds] = dict(path=row['path'], workers=top,
                        clips_per_s=row['clips_per_s'], target=target,
                        met=row['clips_per_s'] >= target)
    return best


def assemble(work: str, records: List[dict], install: Mapping[str, dict],
             s: Settings, videos: str, seconds: int) -> dict:
    """The report: everything the steps wrote under ``work`` (their
    records, ``runs/``, ``logs/``, ``probes/``, ``facts.json``,
    ``equality.json``), combined."""
    runs, rows = measurement_rows(records, work)
    probes = {lib: load_json(osp.join(work, 'probes', f'{lib}.json'))
              for lib in LIBS}
    equality = load_json(osp.join(work, 'equality.json'))
    if equality is None:
        equality = dict(status=next((r['status'] for r in records
                                     if r['name'] == 'equality'), 'missing'))
    return dict(
        schema='gpu_data_report/2', dry_run=s.dry_run,
        written=time.strftime('%Y-%m-%dT%H:%M:%S%z'), seconds=seconds,
        settings=dict(asdict(s), videos=videos),
        facts=load_json(osp.join(work, 'facts.json')),
        install=dict(install),
        libraries=library_states(probes, records, install, s.dry_run),
        steps=records, runs=runs, equality=equality,
        summary=dict(rows=rows, best=best_paths(rows, s.target_rate),
                     target_rate=s.target_rate))


# -------------------------------------------------------------- summary
PATH_ORDER = ['stock', 'fast'] + [f'gpu-{lib}' for lib in LIBS]


def _num(value, spec: str) -> str:
    return '-' if value is None else format(value, spec)


def rows_table(rows: Sequence[dict]) -> str:
    table = [('dataset', 'path', 'workers', 'clips/s', '/worker',
              'vs stock', 'status')]
    for r in sorted(rows, key=lambda r: (
            r['dataset'], -r['workers'], PATH_ORDER.index(r['path'])
            if r['path'] in PATH_ORDER else len(PATH_ORDER))):
        note = r['status'] if r['status'] == 'ok' else \
            f'{r["status"]}: {(r.get("reason") or "")[:70]}'
        if r.get('warnings'):
            note += f' (warned: {r["warnings"][0][:90]})'
        table.append((r['dataset'], r['path'], r['workers'],
                      _num(r.get('clips_per_s'), '.1f'),
                      _num(r.get('per_worker'), '.1f'),
                      _num(r.get('vs_stock'), '.2f'), note))
    return format_table(table, 'llrrrrl')


def equality_lines(equality: dict) -> List[str]:
    if 'status' in equality:
        return [f'equality: {equality["status"]}']
    lines = []
    for ds, per in equality.items():
        for backend, e in per.items():
            if e['status'] != 'ok':
                lines.append(f'equality {ds} {backend}: {e["status"]}: '
                             f'{e.get("reason")}')
                continue
            rgb = ', '.join(f'{v:+.2f}' for v in e['raw_mean_diff_rgb'])
            lines.append(
                f'equality {ds} {backend} vs decord ({e["videos"]} videos): '
                f'frames max|d| {e["raw_max_abs"]} mean|d| '
                f'{e["raw_mean_abs"]:.2f}, mean d RGB {rgb}; seek off '
                f'{e["seek_mismatches"]}/{e["seek_checked"]}; inputs max|d| '
                f'{e["inputs_max_abs"]}, mean/std {e["inputs_mean_ours"]:.2f}'
                f'/{e["inputs_std_ours"]:.2f} vs '
                f'{e["inputs_mean_decord"]:.2f}/{e["inputs_std_decord"]:.2f}')
    return lines


def format_summary(report: dict) -> str:
    """The table printed at the end: every measurement, the best path a
    dataset against the target, the libraries, the equality check, the
    preparation steps that failed."""
    summary = report['summary']
    lines = [f'GPU data report ({"DRY RUN, " if report["dry_run"] else ""}'
             f'{report["seconds"]} s; clips/s of the training pipelines)',
             '', rows_table(summary['rows']), '']
    target = summary['target_rate']
    for ds, b in summary['best'].items():
        if 'clips_per_s' in b:
            lines.append(f'best {ds} at {b["workers"]} workers: {b["path"]} '
                         f'{b["clips_per_s"]:.1f} clips/s; target '
                         f'{target:g}: {"met" if b["met"] else "NOT met"}')
        else:
            lines.append(f'best {ds}: {b["status"]}')
    lines.append('')
    for lib, entry in report['libraries'].items():
        install = entry['install'] or {}
        state = install.get('status', '-')
        if state == 'failed':
            state += ': ' + (install.get('reason') or '')[:200]
        lines.append(f'library {lib}: {entry["status"]} (install: {state})' +
                     (f': {entry["reason"][:300]}' if entry['reason'] else ''))
    lines += [''] + equality_lines(report['equality'])
    for r in report['steps']:
        if r['status'] in ('failed', 'timeout') and r['group'] != 'bench':
            lines.append(f'step {r["name"]}: {r["status"]}: '
                         f'{r.get("log_reason") or r.get("reason")}')
    return '\n'.join(lines)


# ----------------------------------------------------------------- main
def main(argv=None) -> int:
    s, args = parse_args(argv)
    out, work, temporary = temp_dirs(args.out, args.work, 'gpu_data_report')
    os.environ.update(PYTHONUNBUFFERED='1', PYTHONDONTWRITEBYTECODE='1')
    with open(osp.join(out, 'gpu_data_report.log'), 'w') as log, \
            contextlib.redirect_stdout(Tee(sys.stdout, log)):
        run = DataReport(s, out, work)
        run.run()
        report = run.report()
        text = format_summary(report)
        write_json(osp.join(out, 'gpu_data_report.json'), report)
        write_text(osp.join(out, 'summary.txt'), text)
        print(text)
        write_tar(osp.join(out, 'gpu_data_report_raw.tar.gz'), [(work, [
            'logs', 'runs', 'probes', 'configs', 'facts.json',
            'equality.json'])])
        if temporary:  # its results are in the tar
            shutil.rmtree(work, ignore_errors=True)
        run.say('done: ' + ' '.join(sorted(os.listdir(out))))
    return 0


if __name__ == '__main__':
    sys.exit(main())
