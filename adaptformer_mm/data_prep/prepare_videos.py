"""Re-encode a video dataset for fast random access (``prepare_videos``).

Training decodes a short clip at a random offset of every video, each epoch.
decord seeks to the keyframe before the first wanted frame and decodes
forward, so the cost of a clip is set by the *distance between keyframes*
(camera files and web videos often have one every 250+ frames) and by the
*frame size* (full HD decoded only to be resized to a short side of 256).
Re-encoding once to the training short side with a keyframe every ``gop``
frames removes both costs.

What is written (ffmpeg, libx264, one ffmpeg process per file):

* the short side scaled to ``short_side`` (aspect kept, both sides even as
  yuv420p requires); never upscaled unless ``allow_upscale``: smaller videos
  keep their size (rounded down to even) and are still re-encoded for the
  keyframe interval;
* a keyframe exactly every ``gop`` frames (``-g gop -keyint_min gop
  -sc_threshold 0``; x264 GOPs are closed, so decoding starts at any
  keyframe). x264's B-frames are kept: at 640x360 they made files ~25%
  smaller and decoded no slower than ``-bf 0``;
* every source frame exactly once (``-fps_mode passthrough``, ffmpeg >= 5.1),
  so frame counts and clip sampling match the originals; audio dropped.

Originals are only read (by ffmpeg). Each output is written to a hidden
``.<name>.partial`` file next to its final name, checked with decord, recorded
in ``DST_ROOT/prepare_manifest.jsonl`` and only then renamed onto the final
name. A rerun skips a file when the manifest records it with the same source
size and mtime, the same settings and an output of the recorded size; it
re-encodes the others and removes stale partial files of a killed run. It
refuses to mix settings in one ``DST_ROOT`` and never replaces a file it did
not write, unless told to (``overwrite``).

The relative layout and file names are kept, so annotation lists stay valid,
except that WebM cannot hold H.264: ``ext='mp4'`` renames every output to
``.mp4`` (and :func:`rewrite_ann_file` writes a matching list).
"""
import json
import os
import os.path as osp
import random
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import cv2
import decord
import numpy as np
from mmengine.utils import ProgressBar
from mmaction.datasets.transforms import (DecordDecode, DecordInit, Resize,
                                          SampleFrames)

VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mkv', '.webm', '.mov', '.m4v')
# ffmpeg muxer per output extension; all of them can hold H.264.
MUXERS = {'.mp4': 'mp4', '.m4v': 'mp4', '.mov': 'mov', '.mkv': 'matroska',
          '.avi': 'avi'}
OUTPUT_EXTENSIONS = ('keep', 'mp4')
MANIFEST = 'prepare_manifest.jsonl'
RECORD_KEYS = ('src', 'dst', 'size', 'mtime_ns', 'settings', 'out_bytes')
CODEC = 'libx264'
X264_PRESETS = ('ultrafast', 'superfast', 'veryfast', 'faster', 'fast',
                'medium', 'slow', 'slower', 'veryslow', 'placebo')
STDERR_LINES = 5  # ffmpeg stderr lines quoted for a failed file


@dataclass(frozen=True)
class EncodeSettings:
    """Everything that decides an output's content (recorded per file)."""
    short_side: int = 256
    gop: int = 16
    crf: int = 23
    preset: str = 'veryfast'
    allow_upscale: bool = False
    codec: str = field(default=CODEC, init=False)

    def __post_init__(self):
        if self.short_side <= 0 or self.short_side % 2:
            raise ValueError(f'--short-side must be a positive even number '
                             f'(yuv420p needs even sides), got '
                             f'{self.short_side}')
        if self.gop <= 0:
            raise ValueError(f'--gop must be a positive number of frames, '
                             f'got {self.gop}')
        if not 0 <= self.crf <= 51:
            raise ValueError(f'--crf must be in 0..51 (x264), got {self.crf}')
        if self.preset not in X264_PRESETS:
            raise ValueError(f'--preset must be one of {X264_PRESETS}, got '
                             f'{self.preset!r}')


@dataclass
class Job:
    """One source video and where its re-encoded copy goes."""
    rel_src: str
    rel_dst: str
    src: str
    dst: str
    size: int
    mtime_ns: int
    reason: str = ''

    @property
    def partial(self) -> str:
        return osp.join(osp.dirname(self.dst),
                        f'.{osp.basename(self.dst)}.partial')


# --------------------------------------------------------------- discovery
def find_ffmpeg(path: Optional[str] = None) -> str:
    """The ffmpeg to run: ``path`` if given, else the one on PATH, else the
    binary shipped by the ``imageio-ffmpeg`` package."""
    if path is not None:
        if not (osp.isfile(path) and os.access(path, os.X_OK)):
            raise FileNotFoundError(
                f'--ffmpeg {path}: not an executable file (without '
                f'--ffmpeg: ffmpeg on PATH, else the imageio-ffmpeg one)')
        return path
    found = shutil.which('ffmpeg')
    if found:
        return found
    try:
        import imageio_ffmpeg
        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        raise FileNotFoundError(
            'no ffmpeg found: pass --ffmpeg PATH, put ffmpeg on PATH, or '
            '`pip install imageio-ffmpeg` (ships an ffmpeg binary)') from None


def read_ann_videos(ann_file: str) -> List[str]:
    """Distinct video paths (first field) of an mmaction2 video list, in
    order; a video listed twice is encoded once."""
    videos = []
    with open(ann_file) as f:
        for line in f:
            fields = line.split()
            if fields:
                videos.append(fields[0])
    return list(dict.fromkeys(videos))


def walk_videos(src_root: str, exclude: Optional[str] = None) -> List[str]:
    """Sorted relative paths of the videos under ``src_root``, not entering
    ``exclude`` (a DST_ROOT inside SRC_ROOT)."""
    found = []
    exclude = osp.realpath(exclude) if exclude else None
    for dirpath, dirnames, filenames in os.walk(src_root):
        dirnames[:] = sorted(
            d for d in dirnames
            if osp.realpath(osp.join(dirpath, d)) != exclude)
        for name in filenames:
            if osp.splitext(name)[1].lower() in VIDEO_EXTENSIONS:
                found.append(osp.relpath(osp.join(dirpath, name), src_root))
    return sorted(found)


def output_rel(rel: str, ext: str) -> str:
    """Relative output path: the same, or with ``.mp4`` for ``ext='mp4'``."""
    return rel if ext == 'keep' else osp.splitext(rel)[0] + '.mp4'


def _inside(path: str, root: str) -> bool:
    return osp.commonpath([path, root]) == root


def plan_jobs(src_root: str, dst_root: str,
              ann_file: Optional[str] = None,
              ext: str = 'keep') -> List[Job]:
    """The jobs for every selected video, after the checks that keep the
    originals safe; raises with the offending files otherwise."""
    if ext not in OUTPUT_EXTENSIONS:
        raise ValueError(f'--ext must be one of {OUTPUT_EXTENSIONS}, got '
                         f'{ext!r}')
    if not osp.isdir(src_root):
        raise FileNotFoundError(f'SRC_ROOT {src_root} is not a directory')
    src_real, dst_real = osp.realpath(src_root), osp.realpath(dst_root)
    if src_real == dst_real:
        raise ValueError(f'DST_ROOT {dst_root} is SRC_ROOT; choose another '
                         f'folder (originals are never replaced)')
    if _inside(src_real, dst_real):
        raise ValueError(f'SRC_ROOT {src_root} is inside DST_ROOT '
                         f'{dst_root}: outputs could land among the '
                         f'originals; choose a DST_ROOT outside it')
    if ann_file:
        rels = read_ann_videos(ann_file)
        missing = [r for r in rels if not osp.isfile(osp.join(src_root, r))]
        if missing:
            raise FileNotFoundError(
                f'{len(missing)} of the {len(rels)} videos of {ann_file} '
                f'are not under SRC_ROOT {src_root}, e.g. {missing[:3]}')
    else:
        rels = walk_videos(src_root, exclude=dst_root)
    webm = [r for r in rels if osp.splitext(r)[1].lower() == '.webm']
    if webm and ext == 'keep':
        raise ValueError(
            f'WebM cannot hold H.264 ({len(webm)} files, e.g. {webm[0]}); '
            f'pass --ext mp4 to write .mp4 names (with --ann-file, a '
            f'rewritten list is written to DST_ROOT)')
    unknown = [r for r in rels
               if osp.splitext(output_rel(r, ext))[1].lower() not in MUXERS]
    if unknown:
        raise ValueError(f'no H.264 container for {unknown[:3]}: known '
                         f'extensions are {VIDEO_EXTENSIONS}; pass --ext mp4')
    inputs = {osp.realpath(osp.join(src_root, r)) for r in rels}
    jobs, seen = [], {}
    for rel in rels:
        rel_dst = output_rel(rel, ext)
        src, dst = osp.join(src_root, rel), osp.join(dst_root, rel_dst)
        if osp.realpath(dst) in inputs:
            raise ValueError(f'output {dst} is the input video '
                             f'{osp.realpath(dst)}; choose another DST_ROOT')
        if rel_dst in seen:
            raise ValueError(f'{seen[rel_dst]} and {rel} would both be '
                             f'written to {dst}')
        seen[rel_dst] = rel
        stat = os.stat(src)
        jobs.append(Job(rel, rel_dst, src, dst, stat.st_size,
                        stat.st_mtime_ns))
    return jobs


# ------------------------------------------------------------------ resume
def manifest_path(dst_root: str) -> str:
    return osp.join(dst_root, MANIFEST)


def read_manifest(dst_root: str) -> Dict[str, dict]:
    """Latest record per source file. A line cut short by a killed run is
    ignored (that file is then simply redone)."""
    records = {}
    path = manifest_path(dst_root)
    if osp.isfile(path):
        with open(path) as f:
            for line in f:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict) and all(
                        k in record for k in RECORD_KEYS):
                    records[record['src']] = record
    return records


def _settings_diff(old: dict, new: dict) -> List[str]:
    return [f'{k}: {old.get(k)!r} there, {v!r} now'
            for k, v in new.items() if old.get(k) != v]


def split_done(jobs: Sequence[Job], dst_root: str, settings: EncodeSettings,
               overwrite: bool = False) -> Tuple[List[Job], List[Job]]:
    """``(todo, skipped)``; each todo job gets the ``reason`` it is redone.

    Raises ``FileExistsError`` instead of replacing outputs made with other
    settings or outputs this tool did not record, unless ``overwrite``.
    """
    records = read_manifest(dst_root)
    wanted = asdict(settings)
    if not overwrite:
        changed = {rel: _settings_diff(rec['settings'], wanted)
                   for rel, rec in records.items()
                   if rec['settings'] != wanted
                   and osp.exists(osp.join(dst_root, rec['dst']))}
        if changed:
            rel, diff = next(iter(changed.items()))
            raise FileExistsError(
                f'DST_ROOT {dst_root} holds {len(changed)} videos prepared '
                f'with other settings ({"; ".join(diff)}), e.g. {rel}. Use a '
                f'new DST_ROOT, or --overwrite to re-encode the selected '
                f'videos')
    todo, skipped = [], []
    for job in jobs:
        rec = records.get(job.rel_src)
        exists = osp.exists(job.dst)
        if overwrite:
            job.reason = 'overwrite' if exists else 'new'
        elif rec is None:
            if exists:
                raise FileExistsError(
                    f'{job.dst} exists but is not recorded in '
                    f'{manifest_path(dst_root)}, so this tool did not write '
                    f'it. Use a new DST_ROOT, or --overwrite to replace it')
            job.reason = 'new'
        elif (rec['size'], rec['mtime_ns']) != (job.size, job.mtime_ns):
            job.reason = 'source changed'
        elif not exists or osp.getsize(job.dst) != rec['out_bytes']:
            job.reason = 'output missing or incomplete'
        else:
            skipped.append(job)
            continue
        todo.append(job)
    return todo, skipped


# ---------------------------------------------------------------- encoding
def scale_filter(short_side: int, allow_upscale: bool = False) -> str:
    """ffmpeg ``scale`` that brings the short side to ``short_side``; the
    long side follows the aspect ratio (``-2``: rounded to even)."""
    def side(dim):
        target = short_side if allow_upscale else f'min({short_side},{dim})'
        return f'trunc({target}/2)*2'
    return (f"scale=w='if(lt(iw,ih),{side('iw')},-2)'"
            f":h='if(lt(iw,ih),-2,{side('ih')})'")


def ffmpeg_command(ffmpeg: str, src: str, out: str, muxer: str,
                   settings: EncodeSettings) -> List[str]:
    """One-threaded decode and encode: parallelism is across files."""
    gop = str(settings.gop)
    return [
        ffmpeg, '-nostdin', '-hide_banner', '-loglevel', 'error', '-y',
        '-threads', '1', '-i', src,
        '-map', '0:v:0',  # the first video stream only: no audio
        '-vf', scale_filter(settings.short_side, settings.allow_upscale),
        '-fps_mode', 'passthrough',
        '-c:v', settings.codec, '-preset', settings.preset,
        '-crf', str(settings.crf), '-g', gop, '-keyint_min', gop,
        '-sc_threshold', '0', '-pix_fmt', 'yuv420p', '-threads', '1',
        '-f', muxer, out]


def encode_one(job: Job, settings: EncodeSettings,
               ffmpeg: str) -> Optional[str]:
    """Encode ``job`` to its partial file and check it decodes; ``None`` on
    success, else what went wrong (ffmpeg's last stderr lines)."""
    os.makedirs(osp.dirname(job.dst), exist_ok=True)
    if osp.lexists(job.partial):  # left by a killed run
        os.remove(job.partial)
    error = _encode_and_check(job, settings, ffmpeg)
    if error is not None and osp.lexists(job.partial):
        os.remove(job.partial)
    return error


def _encode_and_check(job, settings, ffmpeg):
    muxer = MUXERS[osp.splitext(job.dst)[1].lower()]
    proc = subprocess.run(
        ffmpeg_command(ffmpeg, job.src, job.partial, muxer, settings),
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True, errors='replace')
    if proc.returncode != 0:
        lines = [x for x in proc.stderr.splitlines() if x.strip()]
        return (f'ffmpeg exited with {proc.returncode}: ' +
                ' | '.join(lines[-STDERR_LINES:]))
    try:
        frames = len(decord.VideoReader(job.partial, num_threads=1))
    except (RuntimeError, decord.DECORDError) as e:
        return f'decord cannot open the encoded file: {e}'
    return None if frames > 0 else 'the encoded file has no frames'


def _append_record(dst_root: str, job: Job, settings: EncodeSettings):
    record = dict(src=job.rel_src, dst=job.rel_dst, size=job.size,
                  mtime_ns=job.mtime_ns, settings=asdict(settings),
                  out_bytes=osp.getsize(job.partial))
    line = json.dumps(record).encode() + b'\n'
    with open(manifest_path(dst_root), 'a+b') as f:
        if f.seek(0, os.SEEK_END):  # a killed run may have left half a line
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b'\n':
                line = b'\n' + line
        f.write(line)


def _encode_all(todo, dst_root, settings, ffmpeg, workers, fail_fast, log,
                progress=True):
    """Encode ``todo`` ``workers`` at a time; ``(encoded jobs, [(rel_src,
    error)])``. Threads suffice: each only waits for its ffmpeg process.

    With ``progress``, mmengine's progress bar on stdout shows files done of
    all, files/s, elapsed time and time left; a failure is logged on a line
    of its own and the bar goes on below it.
    """
    encoded, failed = [], []
    out = sys.stdout  # read now: tests and callers may have replaced it
    bar = ProgressBar(len(todo), file=out) if progress and todo else None
    pool = ThreadPoolExecutor(workers)
    try:
        futures = {pool.submit(encode_one, job, settings, ffmpeg): job
                   for job in todo}
        for future in as_completed(futures):
            if future.cancelled():
                continue
            job, error = futures[future], future.result()
            if error is None:
                # Record first: a run killed before the rename leaves a
                # record whose output is missing or of another size, which
                # the next run redoes.
                _append_record(dst_root, job, settings)
                os.replace(job.partial, job.dst)
                encoded.append(job)
            else:
                failed.append((job.rel_src, error))
                if bar is not None:
                    out.write('\n')
                log(f'FAILED {job.src}: {error}')
                if fail_fast:
                    for other in futures:
                        other.cancel()
            if bar is not None:
                bar.update()
    finally:  # on Ctrl-C too: start nothing new, let running ffmpegs end
        pool.shutdown(wait=True, cancel_futures=True)
        if bar is not None:
            out.write('\n')
            out.flush()
    return encoded, failed


def prepare_videos(src_root: str, dst_root: str,
                   settings: EncodeSettings = EncodeSettings(),
                   ann_file: Optional[str] = None, ext: str = 'keep',
                   ffmpeg: Optional[str] = None, workers: int = 1,
                   overwrite: bool = False, fail_fast: bool = False,
                   dry_run: bool = False,
                   log: Callable[[str], None] = print,
                   progress: bool = True) -> dict:
    """Re-encode the selected videos of ``src_root`` under ``dst_root``.

    ``log`` gets the plan and each failure; ``progress`` shows files done,
    files/s and the time left on stdout while encoding.

    Returns the counts (``done``, ``skipped``, ``failed`` as ``[(rel_src,
    message)]``, ``not_started`` after a ``fail_fast`` stop), the bytes of
    the sources and outputs that exist, the ``pairs`` ``(source, output)``
    ready for :func:`measure_decode_rate` and the wall time.
    """
    start = time.perf_counter()
    if workers < 1:
        raise ValueError(f'--workers must be >= 1, got {workers}')
    ffmpeg = find_ffmpeg(ffmpeg)
    jobs = plan_jobs(src_root, dst_root, ann_file, ext)
    todo, skipped = split_done(jobs, dst_root, settings, overwrite)
    log(f'{len(jobs)} videos: {len(todo)} to encode, {len(skipped)} already '
        f'done (ffmpeg: {ffmpeg})')
    if dry_run:
        for job in todo:
            log(f'would encode {job.src} -> {job.dst} ({job.reason})')
        return dict(done=0, skipped=len(skipped), failed=[], not_started=0,
                    would_encode=len(todo), dry_run=True, input_bytes=0,
                    output_bytes=0, pairs=[],
                    wall_s=time.perf_counter() - start)
    os.makedirs(dst_root, exist_ok=True)
    encoded, failed = _encode_all(todo, dst_root, settings, ffmpeg, workers,
                                  fail_fast, log, progress)
    finished = skipped + encoded
    return dict(
        done=len(encoded), skipped=len(skipped), failed=failed,
        not_started=len(todo) - len(encoded) - len(failed), dry_run=False,
        input_bytes=sum(job.size for job in finished),
        output_bytes=sum(osp.getsize(job.dst) for job in finished),
        pairs=[(job.src, job.dst) for job in finished],
        wall_s=time.perf_counter() - start)


def rewrite_ann_file(ann_file: str, out_file: str, ext: str) -> None:
    """Copy an mmaction2 video list with each video's path renamed as
    :func:`output_rel` renames the file (labels and the rest kept)."""
    if osp.realpath(out_file) == osp.realpath(ann_file):
        raise ValueError(f'the renamed list would replace --ann-file '
                         f'{ann_file}; keep the list outside DST_ROOT')
    with open(ann_file) as f:
        lines = f.read().splitlines(keepends=True)
    with open(out_file, 'w') as f:
        for line in lines:
            f.write(re.sub(r'^(\s*)(\S+)',
                           lambda m: m.group(1) + output_rel(m.group(2), ext),
                           line))


# --------------------------------------------------------------- measuring
def measure_decode_rate(pairs: Sequence[Tuple[str, str]], short_side: int,
                        num_files: int = 8, clips_per_file: int = 4,
                        clip_len: int = 16, frame_interval: int = 4,
                        seed: int = 0) -> dict:
    """Training clips/s of mmaction2's stock decord path on the originals
    and on their prepared copies, in this process, one thread.

    ``num_files`` pairs are drawn with ``seed``. Each gives
    ``clips_per_file`` clips per side through ``DecordInit`` ->
    ``SampleFrames(clip_len, frame_interval, num_clips=1)`` (random offset)
    -> ``DecordDecode`` -> ``Resize(scale=(-1, short_side))``: the per-clip
    cost of a ``VideoDataset``, opening the file included. ``SampleFrames``
    draws from numpy's global generator, seeded per clip, so both sides
    decode the same frames. One untimed clip first keeps one-time set-up
    costs out of the figures.
    """
    if not pairs:
        raise ValueError('no prepared videos to measure')
    chosen = random.Random(seed).sample(list(pairs),
                                        min(num_files, len(pairs)))
    steps = [DecordInit(num_threads=1),
             SampleFrames(clip_len=clip_len, frame_interval=frame_interval,
                          num_clips=1),
             DecordDecode(), Resize(scale=(-1, short_side))]

    def clip_seconds(path, clip_seed):
        np.random.seed(clip_seed)
        results = dict(filename=path, start_index=0, modality='RGB')
        tic = time.perf_counter()
        for step in steps:
            results = step(results)
        return time.perf_counter() - tic

    seconds = [0.0, 0.0]
    cv_threads = cv2.getNumThreads()
    np_state = np.random.get_state()
    cv2.setNumThreads(1)
    try:
        for path in chosen[0]:
            clip_seconds(path, seed)
        for i, pair in enumerate(chosen):
            for k in range(clips_per_file):
                for side, path in enumerate(pair):
                    seconds[side] += clip_seconds(
                        path, seed + i * clips_per_file + k)
    finally:
        cv2.setNumThreads(cv_threads)
        np.random.set_state(np_state)
    clips = len(chosen) * clips_per_file
    original, prepared = (clips / s for s in seconds)
    return dict(files=len(chosen), clips=clips, original=original,
                prepared=prepared, ratio=prepared / original)


# --------------------------------------------------------------- reporting
def _mb(num_bytes: int) -> str:
    return f'{num_bytes / 2 ** 20:.2f} MB'


def format_summary(result: dict) -> str:
    """Human-readable summary of :func:`prepare_videos` (and the decode-rate
    measurement, when ``result['measure']`` holds one)."""
    if result['dry_run']:
        return (f'dry run: {result["would_encode"]} to encode, '
                f'{result["skipped"]} already done')
    lines = [f'done {result["done"]}, skipped {result["skipped"]} (already '
             f'done), failed {len(result["failed"])}'
             + (f', not started {result["not_started"]} (--fail-fast)'
                if result['not_started'] else '')
             + f' in {result["wall_s"]:.1f} s']
    if result['input_bytes']:
        lines.append(f'size: {_mb(result["input_bytes"])} of sources -> '
                     f'{_mb(result["output_bytes"])} prepared '
                     f'({result["output_bytes"] / result["input_bytes"]:.1%})')
    measure = result.get('measure')
    if measure:
        lines.append(f'decode rate ({measure["clips"]} clips of '
                     f'{measure["files"]} files, 1 thread): original '
                     f'{measure["original"]:.1f} clips/s, '
                     f'prepared {measure["prepared"]:.1f} clips/s, '
                     f'{measure["ratio"]:.2f}x')
    for rel, error in result['failed']:
        lines.append(f'FAILED {rel}: {error}')
    return '\n'.join(lines)
