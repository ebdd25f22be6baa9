"""Re-encode a video dataset for fast random access during training.

    python tools/prepare_videos.py SRC_ROOT DST_ROOT [--ann-file LIST]
        [--short-side 256] [--gop 16] [--crf 23] [--preset veryfast]
        [--allow-upscale] [--ext {keep,mp4}] [--workers N] [--overwrite]
        [--fail-fast] [--dry-run] [--ffmpeg PATH]
        [--measure 8] [--clip-len 16] [--frame-interval 4]

Writes every video of SRC_ROOT (or only those of the mmaction2 list
``--ann-file``) under DST_ROOT with the same relative path, H.264 with the
short side at ``--short-side`` and a keyframe every ``--gop`` frames, one
ffmpeg process per file, ``--workers`` at a time, with a progress bar
(files done, files/s, time left). The originals are only read. Rerunning
resumes: finished files are skipped (DST_ROOT/
prepare_manifest.jsonl). Then it times mmaction2's decord training path on
``--measure`` originals and their copies and prints the decode-rate gain.
Exits with status 1 when a video failed. See docs/data_preparation.md.
"""
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from adaptformer_mm.cli import (  # noqa: E402
    SignatureOptions, tool_parser)
from adaptformer_mm.data_prep.prepare_videos import (  # noqa: E402
    OUTPUT_EXTENSIONS, X264_PRESETS, EncodeSettings, format_summary,
    measure_decode_rate, prepare_videos, rewrite_ann_file)


# The options of EncodeSettings: its defaults (and checks).
ENCODE_OPTIONS = SignatureOptions(EncodeSettings, dict(
    short_side='short side in pixels, even',
    allow_upscale='also enlarge videos whose short side is smaller '
    '(default: they keep their size)',
    gop='frames between keyframes',
    crf='x264 quality, 0-51, lower is better',
    preset='x264 speed/size trade-off'), choices=dict(preset=X264_PRESETS))
# The timed clip of measure_decode_rate, with its defaults.
MEASURE_OPTIONS = SignatureOptions(measure_decode_rate, dict(
    clip_len='frames per timed clip',
    frame_interval='frame step of the timed clip'))


def parse_args(argv=None):
    parser = tool_parser(__doc__)
    parser.add_argument('src_root', help='folder of the original videos')
    parser.add_argument('dst_root', help='output folder (layout mirrored)')
    parser.add_argument('--ann-file',
                        help='mmaction2 video list ("path label" lines, '
                        'paths relative to SRC_ROOT): only these videos')
    ENCODE_OPTIONS.add_to(parser)
    parser.add_argument('--ext', choices=OUTPUT_EXTENSIONS, default='keep',
                        help='keep the file names (default) or write .mp4 '
                        'names, required for WebM sources; with --ann-file '
                        'the renamed list is written to DST_ROOT')
    parser.add_argument('--workers', type=int, default=os.cpu_count(),
                        help='ffmpeg processes at a time (default: CPUs)')
    parser.add_argument('--overwrite', action='store_true',
                        help='re-encode every selected video, replacing '
                        'outputs of other settings or not recorded')
    parser.add_argument('--fail-fast', action='store_true',
                        help='start no new video after the first failure')
    parser.add_argument('--dry-run', action='store_true',
                        help='list what would be encoded; write nothing')
    parser.add_argument('--ffmpeg',
                        help='ffmpeg binary (default: ffmpeg on PATH, else '
                        'the one of the imageio-ffmpeg package)')
    parser.add_argument('--measure', type=int, default=8,
                        help='prepared videos to time against their '
                        'originals (default 8; 0: no timing)')
    MEASURE_OPTIONS.add_to(parser)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    settings = EncodeSettings(**ENCODE_OPTIONS.values(args))
    result = prepare_videos(
        args.src_root, args.dst_root, settings, ann_file=args.ann_file,
        ext=args.ext, ffmpeg=args.ffmpeg, workers=args.workers,
        overwrite=args.overwrite, fail_fast=args.fail_fast,
        dry_run=args.dry_run)
    if args.ann_file and args.ext != 'keep' and not args.dry_run:
        out = osp.join(args.dst_root, osp.basename(args.ann_file))
        rewrite_ann_file(args.ann_file, out, args.ext)
        print(f'annotation list with the new names: {out}')
    if args.measure > 0 and result['pairs']:
        result['measure'] = measure_decode_rate(
            result['pairs'], args.short_side, num_files=args.measure,
            **MEASURE_OPTIONS.values(args))
    print(format_summary(result))
    return result


if __name__ == '__main__':
    sys.exit(1 if main()['failed'] else 0)
