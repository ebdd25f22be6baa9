"""adaptformer_mm.benchmark.gpu.data_report, .decoders and .facts, in
process: the options, the measurements' command lines and why one is
skipped, the GPU-decode configs, the optional wheels, the decoder probe and
equality check on tiny videos, the report assembled from fake results; one
dry run end to end (slow)."""
import importlib.util
import json
import os
import os.path as osp
import tarfile

import numpy as np
import pytest
from mmengine.config import Config

from adaptformer_mm.benchmark.gpu import data_report as dr
from adaptformer_mm.benchmark.gpu import decoders
from adaptformer_mm.benchmark.gpu.facts import format_facts, machine_facts
from adaptformer_mm.benchmark.gpu.steps import Outcome, Step
from adaptformer_mm.datasets.synthetic import write_video

from ..conftest import load_tool

DRY = dr.Settings(dry_run=True, **dict(dr.DRY_RUN, workers=(1, 0)))


def report_run(tmp_path, settings=DRY):
    return dr.DataReport(settings, str(tmp_path / 'out'),
                         str(tmp_path / 'work'))


# -------------------------------------------------------------- options
def test_options_dry_run_and_environment(monkeypatch):
    s, _ = dr.parse_args(['--dry-run'])
    assert (s.workers, s.samples_per_worker, s.min_samples, s.num_videos,
            s.equality_videos) == ((1, 0), 2, 4, 3, 2)
    assert s.k400_video_args == '--size 128x64 --frames 40'
    monkeypatch.setenv('GPU_DATA_REPORT_WORKERS', '4 2')
    monkeypatch.setenv('GPU_DATA_REPORT_TARGET', '300')
    monkeypatch.setenv('GPU_DATA_REPORT_SSV2_VIDEO_ARGS', '--frames 9')
    s, _ = dr.parse_args([])
    assert (s.dry_run, s.workers, s.target_rate, s.ssv2_video_args,
            s.samples_per_worker, s.equality_videos) == \
        (False, (4, 2), 300., '--frames 9', 32, 4)
    s, _ = dr.parse_args(['--workers', '8', '--min-samples', '10'])
    assert (s.workers, s.samples(8), s.samples(0)) == ((8, ), 256, 10)


# --------------------------------------------------------- measurements
def test_measurement_command_lines(tmp_path):
    run = report_run(tmp_path, dr.Settings())
    v, work = run.videos, run.work
    parse = load_tool('benchmark_data').parse_args

    k400 = run.bench_step(dr.Bench('k400', 'fast', 16))
    assert (k400.name, k400.kind, k400.timeout_s) == \
        ('bench_k400_fast_w16', 'bench', 90)
    assert k400.meta == dict(dataset='k400', path='fast', workers=16)
    args = parse(list(k400.argv[2:]))
    assert args.config.endswith('configs/_base_/datasets/'
                                'kinetics400_video_fast.py')
    assert (args.num_workers, args.samples, args.target_rate) == \
        (16, 512, 450.)
    assert args.data_root == osp.join(v, 'k400_256')  # the copies
    assert (args.baseline, args.baseline_data_root) == \
        (True, osp.join(v, 'k400'))  # the originals
    assert args.json == osp.join(work, 'runs', 'bench_k400_fast_w16.json')
    assert args.cfg_options == {
        'train_dataloader.dataset.dataset.ann_file':
        osp.join(v, 'k400', 'videos.txt'),
        'train_dataloader.dataset.dataset.data_prefix.video': ''}

    ssv2 = parse(list(run.bench_step(dr.Bench('ssv2', 'fast', 1)).argv[2:]))
    assert (ssv2.data_root, ssv2.baseline_data_root, ssv2.samples) == \
        (osp.join(v, 'ssv2'), None, 64)

    gpu = run.bench_step(dr.Bench('k400', 'gpu-pynvvideocodec', 8))
    assert gpu.timeout_s == 120
    args = parse(list(gpu.argv[2:]))
    assert args.config == osp.join(work, 'configs', dr.K400_GPU_CONFIG)
    assert not args.baseline and args.data_root == osp.join(v, 'k400')
    assert args.cfg_options[
        'train_dataloader.dataset.pipeline.0.backend'] == 'pynvvideocodec'


def test_why_a_measurement_is_skipped(tmp_path, monkeypatch, capsys):
    ran = []
    run = report_run(tmp_path, dr.Settings())
    monkeypatch.setattr(run.runner, 'run', ran.append)
    run.measure(dr.Bench('ssv2', 'gpu-torchcodec', 1), True, 'no NVDEC')
    run.measure(dr.Bench('ssv2', 'fast', 1), False, None)
    run.measure(dr.Bench('ssv2', 'fast', 1), True, None)
    run.measure(dr.Bench('k400', 'gpu-torchcodec', 1), True, None)
    assert [s.name for s in ran] == ['bench_ssv2_fast_w1',
                                     'bench_k400_gpu-torchcodec_w1']
    dry = report_run(tmp_path / 'dry')
    dry.measure(dr.Bench('k400', 'gpu-torchcodec', 1), True, None)
    assert {n: o.reason for n, o in {**run.runner.outcomes,
                                     **dry.runner.outcomes}.items()} == {
        'bench_ssv2_gpu-torchcodec_w1': 'probe failed: no NVDEC',
        'bench_ssv2_fast_w1': 'no test videos',
        'bench_k400_gpu-torchcodec_w1': 'dry run: GPU libraries not '
        'measured'}


# -------------------------------------------------------------- configs
def test_gpu_decode_configs(tmp_path, monkeypatch, capsys):
    path = dr.make_gpu_configs(str(tmp_path))
    assert path == str(tmp_path / 'configs' / dr.K400_GPU_CONFIG)
    ours = Config.fromfile(path)
    stock = Config.fromfile(osp.join(dr.CFG_DIR, 'kinetics400_video.py'))
    decoding = {'DecordInit', 'DecordDecode', 'GPUDecodeInit', 'GPUDecode'}
    for split in ('train', 'val', 'test'):
        pipe, ref = ours[f'{split}_pipeline'], stock[f'{split}_pipeline']
        assert pipe[0] == dict(type='GPUDecodeInit', backend='auto')
        assert [s['type'] for s in pipe if s['type'] in decoding] == \
            ['GPUDecodeInit', 'GPUDecode']
        assert [s for s in pipe if s['type'] not in decoding] == \
            [s for s in ref if s['type'] not in decoding]
        assert ours[f'{split}_dataloader'].dataset.pipeline == pipe
        assert ours[f'{split}_dataloader'].multiprocessing_context == \
            'spawn'
    monkeypatch.setitem(dr.GPU_SWAP, 'DecordDecode',
                        dict(type='GPUDecode', mode='accurate'))
    with pytest.raises(ValueError, match='ssv2_video_gpu-decode.py'):
        dr.make_gpu_configs(str(tmp_path / 'other'))


def test_config_check_names_the_spec(tmp_path, capsys):
    videos = tmp_path / 'videos'
    for folder in ('k400', 'ssv2', 'k400_256'):
        (videos / folder).mkdir(parents=True)
    for ds in dr.DATASETS:
        (videos / ds / 'videos.txt').write_text('00000.mp4 0\n')
    dr.make_gpu_configs(str(tmp_path))
    specs = {f'{ds}_{path}': dr.bench_spec(ds, path, str(videos),
                                           str(tmp_path))
             for ds in dr.DATASETS for path in ('fast', 'gpu-torchcodec')}
    dr.check_specs(specs)
    assert "k400_gpu-torchcodec: " in capsys.readouterr().out
    (videos / 'ssv2' / 'videos.txt').unlink()
    with pytest.raises(AssertionError, match='^ssv2_fast: no .*videos.txt'):
        dr.check_specs(specs)


# -------------------------------------------------------------- wheels
def test_optional_wheels(tmp_path, monkeypatch):
    wheels = tmp_path / 'wheels'
    wheels.mkdir()
    (wheels / 'PyNvVideoCodec-2.0-cp312-linux_x86_64.whl').write_text('x')
    assert dr.find_wheels(str(wheels), 'pynvvideocodec-*.whl') == [
        str(wheels / 'PyNvVideoCodec-2.0-cp312-linux_x86_64.whl')]
    monkeypatch.setattr(dr, 'import_error', lambda module: 'ImportError: x')
    gpu = dr.Settings(wheels=str(wheels), site=str(tmp_path / 'site'))
    log_dir = str(tmp_path)
    assert dr.install_optional('torchcodec', gpu, log_dir) == dict(
        status='failed', reason=f'no wheel torchcodec-*.whl in {wheels}')
    assert dr.install_optional('torchcodec', DRY, log_dir) == dict(
        status='skipped', reason='dry run: GPU libraries not installed')
    broken = dr.install_optional('pynvvideocodec', gpu, log_dir)
    assert broken['status'] == 'failed'
    assert broken['reason'].startswith(
        'pip install PyNvVideoCodec-2.0-cp312-linux_x86_64.whl failed: ')
    monkeypatch.setattr(dr, 'import_error', lambda module: None)
    assert dr.install_optional('torchcodec', gpu, log_dir)['reason'] == \
        'already importable'


def test_import_error_and_where_the_stack_comes_from(tmp_path):
    assert dr.import_error('json') is None
    assert dr.import_error('no_such_module_here') == \
        "ModuleNotFoundError: No module named 'no_such_module_here'"
    import mmengine
    assert dr.required_install(str(tmp_path))['status'] == 'skipped'
    site = osp.dirname(osp.dirname(mmengine.__file__))
    assert dr.required_install(site)['status'] == 'ok'


# ------------------------------------------------------------ decoders
def tiny_videos(folder, num=2, frames=16):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = []
    for i in range(num):
        names.append(f'{i:05d}.mp4')
        write_video(str(folder / names[-1]), rng.integers(
            0, 256, (frames, 64, 64, 3), dtype=np.uint8))
    (folder / 'videos.txt').write_text(''.join(f'{n} 0\n' for n in names))


def test_equality_decord_against_itself_and_a_failing_backend(tmp_path,
                                                              capsys):
    tiny_videos(tmp_path / 'clips')
    stock = osp.join(dr.CFG_DIR, 'kinetics400_video.py')
    gpu = dr.make_gpu_configs(str(tmp_path))
    backends = ['decord', 'torchcodec'] if importlib.util.find_spec(
        'torchcodec') is None else ['decord']
    report = decoders.equality(
        {'tiny': (stock, gpu, str(tmp_path / 'clips'))}, backends, 2)
    same = report['tiny']['decord']
    assert same['status'] == 'ok', same
    assert (same['videos'], same['raw_max_abs'], same['seek_mismatches'],
            same['seek_checked'], same['frame_count_mismatches'],
            same['inputs_max_abs']) == (2, 0, 0, 16, 0, 0.)
    assert same['inputs_mean_ours'] == same['inputs_mean_decord']
    assert same['per_video'][0]['raw']['indices'] == [0, 2, 4, 6, 9, 11,
                                                      13, 15]
    if 'torchcodec' in backends:
        failed = report['tiny']['torchcodec']
        assert failed['status'] == 'failed'
        assert 'GPUDecodeInit' in failed['reason']
        assert failed['per_video'] == []


def test_equality_summary_over_videos():
    def video(max_abs, offsets, frames, inputs_max):
        return dict(raw=dict(max_abs=max_abs, mean_abs=max_abs / 2,
                             mean_diff_rgb=[1., 0., -1.],
                             best_offsets=offsets, frames_ours=frames,
                             frames_decord=300),
                    inputs=dict(max_abs=inputs_max, mean_abs=inputs_max,
                                mean_ours=1., std_ours=2., mean_decord=3.,
                                std_decord=4.))

    summary = decoders.summarise([video(4, [0, 1, 0], 300, 2.),
                                  video(8, [0, -2, 1], 299, None)])
    assert (summary['raw_max_abs'], summary['raw_mean_abs'],
            summary['seek_mismatches'], summary['seek_checked'],
            summary['frame_count_mismatches'], summary['inputs_max_abs'],
            summary['inputs_mean_abs']) == (8, 3., 3, 6, 1, 2., 2.)
    assert summary['raw_mean_diff_rgb'] == [1., 0., -1.]


def test_probe_of_a_library_that_does_not_import():
    if importlib.util.find_spec('torchcodec') is not None:
        pytest.skip('torchcodec is installed here')
    report = decoders.probe('torchcodec', {'k400': 'a.mp4'})
    assert report['import']['ok'] is False
    assert report['reason'] == "import torchcodec failed: " \
        "ModuleNotFoundError: No module named 'torchcodec'"
    assert decoders.probe_result(report, 'k400') == report['reason']
    assert decoders.probe_result(None, 'k400') == 'probe wrote nothing'
    decoded = dict(datasets=dict(k400=dict(ok=True),
                                 ssv2=dict(ok=False, error='EOF')))
    assert decoders.probe_result(decoded, 'k400') is None
    assert decoders.probe_result(decoded, 'ssv2') == 'EOF'


def test_machine_facts_for_video():
    facts = machine_facts(video=True)
    assert facts['cpu_count'] == os.cpu_count()
    assert facts['packages']['mmengine']['imports'] is True
    assert facts['mmengine'] == facts['packages']['mmengine']['dist_version']
    for key in ('torch', 'cudnn', 'gpu_name', 'driver', 'ffmpeg_binary',
                'video_driver_libs', 'ffmpeg_libs'):
        assert key in facts, key
    text = format_facts(facts, 'nvidia-smi: not found')
    assert f'cpu_count: {os.cpu_count()}' in text.splitlines()
    assert 'package mmengine: ' in text
    assert text.endswith('== nvidia-smi\nnvidia-smi: not found')


# ------------------------------------------------------------- assembly
def result(clips_per_s, workers, baseline=None):
    figures = dict(clips_per_s=clips_per_s, clips=64, seconds=1.,
                   clips_per_s_per_worker=clips_per_s / max(workers, 1))
    if baseline:
        figures['baseline'] = dict(result(baseline, workers))
    return figures


def record(name, status='ok', group='bench', **meta):
    return dict(name=name, group=group, status=status, rc=0, seconds=1,
                reason=None, **meta)


def test_report_from_fake_results(tmp_path):
    work = tmp_path
    for folder in ('runs', 'probes', 'logs'):
        (work / folder).mkdir()
    (work / 'runs' / 'bench_ssv2_fast_w2.json').write_text(
        json.dumps(result(150., 2, baseline=50.)))
    (work / 'runs' / 'bench_ssv2_fast_w1.json').write_text(
        json.dumps(result(90., 1, baseline=30.)))
    (work / 'logs' / 'bench_ssv2_fast_w2.log').write_text(
        'UserWarning: GPUDecode warned: torchcodec decodes on the CPU\n')
    (work / 'logs' / 'equality.log').write_text(
        'Traceback (most recent call last):\nRuntimeError: no frames\n'
        'exiting\n')
    (work / 'probes' / 'torchcodec.json').write_text(json.dumps(
        decoders.import_failure('torchcodec', 'ImportError: libavutil')))
    records = [
        record('equality', 'failed', 'setup', log_reason=dr.log_reason(
            str(work / 'logs' / 'equality.log'))),
        record('bench_ssv2_fast_w2', dataset='ssv2', path='fast', workers=2),
        record('bench_ssv2_fast_w1', dataset='ssv2', path='fast', workers=1),
        record('bench_k400_fast_w2', dataset='k400', path='fast', workers=2),
        dict(record('bench_ssv2_gpu-torchcodec_w2', 'skipped',
                    dataset='ssv2', path='gpu-torchcodec', workers=2),
             reason='probe failed: libavutil')]
    install = dict(torchcodec=dict(status='failed', reason='no wheel'))
    s = dr.Settings(target_rate=100.)
    report = dr.assemble(str(work), records, install, s, '/videos', 42)
    assert report['settings']['videos'] == '/videos'
    rows = report['summary']['rows']
    by = {(r['dataset'], r['path'], r['workers']): r for r in rows}
    assert by[('ssv2', 'fast', 2)]['vs_stock'] == 3.
    assert by[('ssv2', 'stock', 2)]['clips_per_s'] == 50.
    assert by[('ssv2', 'fast', 2)]['warnings'] == [
        'GPUDecode warned: torchcodec decodes on the CPU']
    assert by[('k400', 'fast', 2)]['status'] == 'failed'
    assert by[('k400', 'fast', 2)]['reason'] == 'no JSON written'
    assert report['summary']['best'] == dict(
        ssv2=dict(path='fast', workers=2, clips_per_s=150., target=100.,
                  met=True),
        k400=dict(status='no measurement'))
    libraries = report['libraries']
    assert libraries['torchcodec']['status'] == 'failed'
    assert libraries['torchcodec']['reason'] == \
        'import torchcodec failed: ImportError: libavutil'
    assert libraries['pynvvideocodec']['reason'] == 'probe wrote nothing'
    assert report['equality'] == dict(status='failed')

    text = dr.format_summary(report)
    lines = text.splitlines()
    assert lines[0] == 'GPU data report (42 s; clips/s of the training ' \
        'pipelines)'
    table = [line.split()[:4] for line in lines[2:10]]
    assert table[2:7] == [['k400', 'fast', '2', '-'],
                          ['ssv2', 'stock', '2', '50.0'],
                          ['ssv2', 'fast', '2', '150.0'],
                          ['ssv2', 'gpu-torchcodec', '2', '-'],
                          ['ssv2', 'stock', '1', '30.0']]
    assert 'skipped: probe failed: libavutil' in text
    assert 'best ssv2 at 2 workers: fast 150.0 clips/s; target 100: met' \
        in lines
    assert 'best k400: no measurement' in lines
    assert 'library torchcodec: failed (install: failed: no wheel): import ' \
        'torchcodec failed: ImportError: libavutil' in lines
    assert 'equality: failed' in lines
    assert lines[-1] == 'step equality: failed: RuntimeError: no frames'


def test_step_records_carry_what_was_measured(tmp_path):
    run = report_run(tmp_path)
    bench = run.bench_step(dr.Bench('ssv2', 'fast', 1))
    run.runner.record(bench, Outcome('timeout', 124, 90, 'stopped'))
    run.runner.record(Step('configs', 'setup', 60), Outcome('ok', 0, 1))
    (tmp_path / 'work' / 'logs' / f'{bench.name}.log').write_text(
        'KeyError: clip_len\nUserWarning: later\n')
    assert dr.step_records(run.runner) == [
        dict(name=bench.name, group='bench', dataset='ssv2', path='fast',
             workers=1, status='timeout', rc=124, seconds=90,
             reason='stopped', log_reason='KeyError: clip_len'),
        dict(name='configs', group='setup', dataset=None, path=None,
             workers=None, status='ok', rc=0, seconds=1, reason=None)]


# ------------------------------------------------------------ dry run
@pytest.mark.slow
def test_dry_run_end_to_end(tmp_path, capsys):
    out, work = tmp_path / 'out', tmp_path / 'work'
    assert dr.main(['--dry-run', '--out', str(out), '--work', str(work),
                    '--workers', '0', '--wheels', str(tmp_path / 'none'),
                    '--site', str(tmp_path / 'site')]) == 0
    printed = capsys.readouterr().out
    assert sorted(os.listdir(out)) == [
        'gpu_data_report.json', 'gpu_data_report.log',
        'gpu_data_report_raw.tar.gz', 'machine_facts.txt', 'summary.txt']
    report = json.loads((out / 'gpu_data_report.json').read_text())
    assert report['dry_run'] is True
    assert report['facts']['cpu_count'] == os.cpu_count()
    assert [s['name'] for s in report['steps'] if s['status'] != 'ok'
            and s['group'] != 'bench'] == []
    runs = {r['name']: r for r in report['runs']}
    assert set(runs) == {f'bench_{ds}_{path}_w0' for ds in dr.DATASETS
                         for path in ('fast', 'gpu-torchcodec',
                                      'gpu-pynvvideocodec')}
    k400 = runs['bench_k400_fast_w0']['result']
    assert (k400['num_workers'], k400['target_rate']) == (0, 450)
    assert k400['data_root'].endswith('k400_256')
    assert k400['baseline']['data_root'].endswith('k400')
    assert runs['bench_ssv2_gpu-torchcodec_w0']['reason'] == \
        'dry run: GPU libraries not measured'
    for ds in dr.DATASETS:
        assert set(report['equality'][ds]) == {'decord'}
        same = report['equality'][ds]['decord']
        assert (same['status'], same['raw_max_abs'],
                same['inputs_max_abs']) == ('ok', 0, 0.)
    summary = (out / 'summary.txt').read_text()
    assert summary.startswith('GPU data report (DRY RUN')
    assert summary.strip() in printed
    assert summary.strip() in (out / 'gpu_data_report.log').read_text()
    with tarfile.open(out / 'gpu_data_report_raw.tar.gz') as tar:
        names = set(tar.getnames())
    assert {'runs/bench_k400_fast_w0.json', 'probes/torchcodec.json',
            'equality.json', 'facts.json', 'logs/bench_k400_fast_w0.log',
            f'configs/{dr.K400_GPU_CONFIG}'} <= names
    assert (work / 'videos' / 'k400' / 'videos.txt').is_file()  # kept
