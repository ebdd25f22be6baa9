"""The facts of the machine a report measures on: CPU, GPU, driver, torch,
CUDA, cuDNN and package versions; with ``--video``, also what GPU video
decoding needs (NVDEC and FFmpeg libraries, which decoding packages import).

    python -m adaptformer_mm.benchmark.gpu.facts JSON TEXT
        [--video [--ffmpeg PATH]]

Run as a process of its own by the reports, so that the report's process
never holds a CUDA context (and never imports a decoding library that may
crash it) while the measurements run.
"""
import argparse
import importlib
import os
import platform
import shutil
import subprocess
import sys
import time
from importlib import metadata
from typing import Optional, Sequence

from ...data_prep.prepare_videos import find_ffmpeg
from .steps import write_json, write_text

#: (module, its distribution names) whose versions are reported.
PACKAGES = (
    ('mmengine', ('mmengine', )),
    ('mmcv', ('mmcv-lite', 'mmcv')),
    ('mmaction', ('mmaction2', )),
    ('mmpretrain', ('mmpretrain', )),
    ('decord', ('decord', )),
    ('numpy', ('numpy', )),
    ('cv2', ('opencv-python-headless', 'opencv-python')),
)
#: The GPU decoding libraries and FFmpeg's Python wrapper.
VIDEO_PACKAGES = (
    ('torchcodec', ('torchcodec', )),
    ('PyNvVideoCodec', ('PyNvVideoCodec', )),
    ('imageio_ffmpeg', ('imageio-ffmpeg', )),
)
NVIDIA_SMI_QUERY = ('nvidia-smi --query-gpu=name,driver_version,memory.total,'
                    'power.limit,clocks.max.sm --format=csv,noheader')


def shell(command: str, timeout_s: int = 30) -> str:
    """What ``command`` prints (stdout and stderr), or why it could not
    run."""
    try:
        proc = subprocess.run(command, shell=True, capture_output=True,
                              text=True, timeout=timeout_s)
    except (OSError, subprocess.SubprocessError) as err:
        return f'{type(err).__name__}: {err}'
    return (proc.stdout + proc.stderr).strip()


def first_line(err: BaseException, limit: int = 300) -> str:
    """``Type: first line of the message``."""
    lines = str(err).strip().splitlines() or ['']
    return f'{type(err).__name__}: {lines[0][:limit]}'


def version(dists: Sequence[str]) -> Optional[str]:
    """The installed version of the first of ``dists`` found (without
    importing it)."""
    for dist in dists:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None


def import_state(module: str, dists: Sequence[str]) -> dict:
    """Whether ``module`` imports: its version and file, or the error."""
    entry = dict(dist_version=version(dists))
    try:
        mod = importlib.import_module(module)
    except BaseException as err:  # noqa: BLE001 (a library may exit)
        return dict(entry, imports=False, error=first_line(err))
    return dict(entry, imports=True,
                version=getattr(mod, '__version__', None),
                file=getattr(mod, '__file__', None))


def _read_first(path: str, prefix: str) -> Optional[str]:
    """The value of the first ``prefix: value`` line of ``path``."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(prefix):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return None


def torch_facts() -> dict:
    """torch, CUDA and cuDNN versions; the first GPU's properties."""
    import torch
    facts = dict(torch=torch.__version__, torch_cuda=torch.version.cuda,
                 cuda_available=torch.cuda.is_available())
    try:
        facts['cudnn'] = torch.backends.cudnn.version()
    except Exception as err:  # noqa: BLE001
        facts['cudnn'] = f'n/a ({err})'
    facts['gpu_name'] = None
    if facts['cuda_available']:
        props = torch.cuda.get_device_properties(0)
        facts.update(gpu_name=props.name, gpu_count=torch.cuda.device_count(),
                     gpu_memory_gib=round(props.total_memory / 2**30, 1),
                     gpu_capability=f'{props.major}.{props.minor}',
                     gpu_multiprocessors=props.multi_processor_count)
    return facts


def video_facts(ffmpeg: Optional[str] = None) -> dict:
    """What GPU decoding needs: the NVDEC and FFmpeg libraries the loader
    finds, the driver's capabilities, the decoding packages, the ffmpeg
    binary (``ffmpeg``, else as :func:`find_ffmpeg` finds it)."""
    facts = dict(
        nvidia_smi_decoder=shell('nvidia-smi -q 2>/dev/null | grep -i -A3 '
                                 '-E "decoder|encoder" | head -20'),
        nvidia_driver_capabilities=os.environ.get(
            'NVIDIA_DRIVER_CAPABILITIES'),
        video_driver_libs=shell(
            'ldconfig -p 2>/dev/null | grep -E "libnvcuvid|libnvidia-encode";'
            ' ls /usr/local/nvidia/lib64 /usr/lib/x86_64-linux-gnu '
            '2>/dev/null | grep -E "libnvcuvid|libnvidia-encode" | sort -u'),
        ffmpeg_libs=shell(
            'ldconfig -p 2>/dev/null | grep -E "libav(codec|format|util)\\.so"'
            '; for d in $(echo "${LD_LIBRARY_PATH:-}" | tr : " "); do '
            'ls "$d" 2>/dev/null | grep -E "^libav(codec|format|util)"; '
            'done'),
        ld_library_path=os.environ.get('LD_LIBRARY_PATH'),
        pythonpath=os.environ.get('PYTHONPATH'),
        packages={module: import_state(module, dists)
                  for module, dists in PACKAGES + VIDEO_PACKAGES})
    try:
        ffmpeg = find_ffmpeg(ffmpeg)
        facts['ffmpeg_binary'] = f'{ffmpeg}: ' + shell(
            f'"{ffmpeg}" -version | head -1')
    except FileNotFoundError as err:
        facts['ffmpeg_binary'] = f'none ({err})'
    return facts


def machine_facts(video: bool = False,
                  ffmpeg: Optional[str] = None) -> dict:
    """The machine's facts (see the module's docstring); ``ffmpeg``: the
    binary to report with ``video``."""
    facts = dict(date=time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
                 python=platform.python_version(), executable=sys.executable,
                 platform=platform.platform(),
                 cpu_model=_read_first('/proc/cpuinfo', 'model name'),
                 cpu_count=os.cpu_count(),
                 mem_total=_read_first('/proc/meminfo', 'MemTotal'))
    facts.update(torch_facts())
    has_smi = shutil.which('nvidia-smi') is not None
    facts['nvidia_smi'] = shell(NVIDIA_SMI_QUERY) if has_smi else None
    facts['driver'] = (shell('nvidia-smi --query-gpu=driver_version '
                             '--format=csv,noheader') or None) \
        if has_smi else None
    facts.update({module: version(dists) or 'not installed'
                  for module, dists in PACKAGES})
    if video:
        facts.update(video_facts(ffmpeg))
    return facts


def format_facts(facts: dict, nvidia_smi: str) -> str:
    """``key: value`` lines (a package a line), then ``nvidia-smi``'s
    output."""
    lines = []
    for key, value in facts.items():
        if key != 'packages':
            lines.append(f'{key}: {value}')
            continue
        for module, entry in value.items():
            state = (entry.get('version') or entry.get('dist_version')
                     if entry['imports'] else entry['error'])
            lines.append(f'package {module}: {state}')
    return '\n'.join(lines + ['== nvidia-smi', nvidia_smi])


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('json', help='the facts as JSON')
    parser.add_argument('text', help='the facts and nvidia-smi\'s output')
    parser.add_argument('--video', action='store_true',
                        help='also what GPU video decoding needs')
    parser.add_argument('--ffmpeg', help='the ffmpeg binary to report with '
                        '--video (default: PATH, then imageio-ffmpeg\'s)')
    args = parser.parse_args(argv)
    facts = machine_facts(args.video, args.ffmpeg)
    smi = shell('nvidia-smi') if shutil.which('nvidia-smi') else \
        'nvidia-smi: not found'
    text = format_facts(facts, smi)
    write_json(args.json, facts)
    write_text(args.text, text)
    print(text)
    return facts


if __name__ == '__main__':
    main()
