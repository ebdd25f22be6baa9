"""Write camera-like test videos encoded as real datasets are, for benchmarks.

    python tools/misc/make_benchmark_videos.py OUT_DIR [--num 16]
        [--size 640x272] [--frames 300] [--fps 30] [--codec h264|vp9|mpeg4]
        [--seed 0] [--ffmpeg PATH]

The data benchmarks (``tools/benchmark_data.py``, ``tools/prepare_videos.py``)
need videos whose decoding costs what real datasets cost, on machines that
have no dataset: H.264 with x264's defaults (keyframe every 250 frames,
B-frames, CRF 23; what web video such as Kinetics uses), VP9 (SSv2's
webm) or MPEG-4 part 2 in AVI (HMDB51's DivX/Xvid files). Each video is a smooth random texture panning under a moving disc
plus a little sensor noise: it compresses and decodes like footage, unlike
per-pixel noise (too expensive) or flat colour (too cheap). Synthetic, so
absolute rates are indicative only; compare pipelines on the same files.

Writes ``OUT_DIR/NNNNN.<mp4|webm|avi>`` and ``OUT_DIR/videos.txt``
(``NNNNN.mp4 0`` per line, an mmaction2 video list). Refuses a non-empty
OUT_DIR.
"""
import argparse
import os
import os.path as osp
import subprocess
import sys

import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))))

from adaptformer_mm.data_prep.prepare_videos import find_ffmpeg  # noqa: E402

CODECS = {
    'h264': ('mp4', ['-c:v', 'libx264']),
    # realtime/cpu-used 8: the encoder's speed only, not the decode cost.
    'vp9': ('webm', ['-c:v', 'libvpx-vp9', '-b:v', '0', '-crf', '33',
                     '-deadline', 'realtime', '-cpu-used', '8']),
    'mpeg4': ('avi', ['-c:v', 'mpeg4', '-q:v', '5']),
}


def camera_like_frames(rng: np.random.Generator, frames: int, height: int,
                       width: int):
    """Yield ``frames`` RGB uint8 frames of ``(height, width, 3)``."""
    import cv2
    pan = max(1, width // 160)
    base = rng.integers(0, 256, (height // 8 + 1, width // 8 + 1, 3),
                        dtype=np.uint8)
    texture = cv2.resize(base, (width + pan * frames, height),
                         interpolation=cv2.INTER_CUBIC)
    radius = max(4, height // 8)
    for i in range(frames):
        frame = texture[:, i * pan:i * pan + width].copy()
        x = int(width * (0.2 + 0.6 * i / max(frames - 1, 1)))
        cv2.circle(frame, (x, height // 2), radius, (255, 60, 30), -1)
        noise = rng.integers(-3, 4, frame.shape, dtype=np.int16)
        yield np.clip(frame + noise, 0, 255).astype(np.uint8)


def write_video(ffmpeg: str, path: str, frames, size, fps: int,
                codec: str) -> None:
    width, height = size
    cmd = [ffmpeg, '-hide_banner', '-loglevel', 'error', '-y', '-f',
           'rawvideo', '-pix_fmt', 'rgb24', '-s', f'{width}x{height}', '-r',
           str(fps), '-i', '-', *CODECS[codec][1], '-pix_fmt', 'yuv420p',
           path]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    for frame in frames:
        proc.stdin.write(frame.tobytes())
    _, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f'ffmpeg failed writing {path}: '
                           f'{err.decode(errors="replace").strip()}')


def _size(text: str):
    try:
        width, height = (int(v) for v in text.lower().split('x'))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'--size {text!r}: expected WIDTHxHEIGHT, e.g. 640x272')
    if width < 64 or height < 64 or width % 2 or height % 2:
        raise argparse.ArgumentTypeError(
            f'--size {text!r}: width and height must be even and >= 64')
    return width, height


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('out_dir', help='folder to create (must be empty)')
    parser.add_argument('--num', type=int, default=16, help='videos')
    parser.add_argument('--size', type=_size, default=(640, 272),
                        help='WIDTHxHEIGHT (default 640x272)')
    parser.add_argument('--frames', type=int, default=300,
                        help='frames per video (default 300: 10 s at 30)')
    parser.add_argument('--fps', type=int, default=30)
    parser.add_argument('--codec', choices=sorted(CODECS), default='h264')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--ffmpeg', help='ffmpeg binary (default: PATH, '
                        'then imageio-ffmpeg\'s)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if osp.isdir(args.out_dir) and os.listdir(args.out_dir):
        raise SystemExit(f'{args.out_dir} is not empty; give a new folder')
    os.makedirs(args.out_dir, exist_ok=True)
    ffmpeg = find_ffmpeg(args.ffmpeg)
    ext = CODECS[args.codec][0]
    rng = np.random.default_rng(args.seed)
    names = []
    for i in range(args.num):
        name = f'{i:05d}.{ext}'
        write_video(ffmpeg, osp.join(args.out_dir, name),
                    camera_like_frames(rng, args.frames, args.size[1],
                                       args.size[0]),
                    args.size, args.fps, args.codec)
        names.append(name)
    with open(osp.join(args.out_dir, 'videos.txt'), 'w') as f:
        f.writelines(f'{name} 0\n' for name in names)
    print(f'{args.num} {args.codec} videos of {args.size[0]}x{args.size[1]}'
          f' x {args.frames} frames in {args.out_dir}')
    return names


if __name__ == '__main__':
    main()
