"""tools/gpu_data_report.sh: the GPU data report's flow, dry-run on the CPU.

The dry run (``GPU_DATA_REPORT_DRY_RUN=1``) writes tiny test videos, times
the stock and the fast CPU paths, runs the decord-vs-decord equality check,
probes the GPU libraries (not installed here) and records their benchmarks
as skipped; then the files under ``$OUT`` must reload with their keys. The
GPU measurements themselves only run on a GPU machine.
"""
import json
import os
import shutil
import subprocess
import sys
import tarfile

import pytest

from ..conftest import REPO

SCRIPT = os.path.join(REPO, 'tools', 'gpu_data_report.sh')
OUT_FILES = {'gpu_data_report.json', 'gpu_data_report.log',
             'gpu_data_report_raw.tar.gz', 'machine_facts.txt', 'summary.txt'}

pytestmark = pytest.mark.skipif(shutil.which('bash') is None,
                                reason='needs bash')


def test_script_parses():
    proc = subprocess.run(['bash', '-n', SCRIPT], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr


@pytest.fixture(scope='module')
def dry_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('gpu_data_report')
    out, work = tmp / 'out', tmp / 'work'
    env = dict(os.environ, GPU_DATA_REPORT_DRY_RUN='1', OUT=str(out),
               GPU_DATA_REPORT_WORK=str(work), PYTHON=sys.executable,
               # one worker count (a DataLoader worker) keeps it short;
               # the dry run's default is "1 0"
               GPU_DATA_REPORT_WORKERS='1',
               GPU_DATA_REPORT_WHEELS=str(tmp / 'no-wheels'),
               GPU_DATA_REPORT_SITE=str(tmp / 'site'))
    proc = subprocess.run(['bash', SCRIPT], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc, out, work


def test_dry_run_writes_the_report(dry_run):
    proc, out, _ = dry_run
    # at most 8 files come back from the device machine, top level here
    assert set(os.listdir(out)) == OUT_FILES
    report = json.loads((out / 'gpu_data_report.json').read_text())
    for key in ('schema', 'dry_run', 'settings', 'facts', 'install',
                'libraries', 'steps', 'runs', 'equality', 'summary'):
        assert key in report, key
    assert report['dry_run'] is True
    assert report['facts']['cpu_count'] == os.cpu_count()
    assert report['install']['required']['status'] == 'skipped'
    for lib in ('torchcodec', 'pynvvideocodec'):
        assert report['install'][lib]['status'] == 'skipped'
        assert report['libraries'][lib]['status'] == 'skipped'
        assert 'dry run' in report['libraries'][lib]['reason']
    failed = [s for s in report['steps'] if s['status'] != 'ok'
              and s['group'] != 'bench']
    assert not failed, failed

    runs = {r['name']: r for r in report['runs']}
    assert set(runs) == {f'bench_{ds}_{path}_w1' for ds in ('k400', 'ssv2')
                         for path in ('fast', 'gpu-torchcodec',
                                      'gpu-pynvvideocodec')}
    for ds in ('k400', 'ssv2'):
        fast = runs[f'bench_{ds}_fast_w1']
        assert fast['status'] == 'ok', fast
        result = fast['result']
        assert result['num_workers'] == 1 and result['target_rate'] == 450
        assert result['clips_per_s'] > 0
        assert result['baseline']['clips_per_s'] > 0  # the stock pipeline
        assert result['dataset'] == 'RepeatedAugDataset'
        for lib in ('torchcodec', 'pynvvideocodec'):
            gpu = runs[f'bench_{ds}_gpu-{lib}_w1']
            assert gpu['status'] == 'skipped'
            assert gpu['reason'].startswith('dry run')
    # the K400 fast path reads the re-encoded copies, stock the originals
    k400 = runs['bench_k400_fast_w1']['result']
    assert k400['data_root'].endswith('k400_256')
    assert k400['baseline']['data_root'].endswith('k400')

    rows = report['summary']['rows']
    paths = {(r['dataset'], r['path']): r for r in rows}
    assert paths[('ssv2', 'stock')]['vs_stock'] == 1
    assert paths[('k400', 'fast')]['clips_per_s'] > 0
    assert report['summary']['best']['ssv2']['workers'] == 1

    # the equality check against itself: decord vs decord is exact
    for ds in ('k400', 'ssv2'):
        eq = report['equality'][ds]['decord']
        assert eq['status'] == 'ok', eq
        assert eq['raw_max_abs'] == 0 and eq['inputs_max_abs'] == 0
        assert eq['seek_mismatches'] == 0 and eq['seek_checked'] > 0
        assert eq['inputs_mean_ours'] == eq['inputs_mean_decord']
        assert set(report['equality'][ds]) == {'decord'}  # no GPU library


def test_dry_run_prints_the_summary(dry_run):
    proc, out, _ = dry_run
    summary = (out / 'summary.txt').read_text()
    assert summary.startswith('GPU data report (DRY RUN')
    for part in ('dataset  path', 'stock', 'fast', 'gpu-torchcodec',
                 'skipped: dry run', 'best k400 at 1 workers',
                 'target 450', 'library pynvvideocodec: skipped',
                 'equality ssv2 decord vs decord'):
        assert part in summary, part
    assert summary in proc.stdout  # printed at the end
    assert summary in (out / 'gpu_data_report.log').read_text()
    assert 'cpu_count:' in (out / 'machine_facts.txt').read_text()


def test_raw_tar_holds_one_json_per_measurement(dry_run):
    _, out, work = dry_run
    with tarfile.open(out / 'gpu_data_report_raw.tar.gz') as tar:
        names = set(tar.getnames())
        for ds in ('k400', 'ssv2'):
            name = f'runs/bench_{ds}_fast_w1.json'
            assert name in names
            result = json.load(tar.extractfile(name))
            assert {'clips_per_s', 'baseline', 'speedup_per_worker'} <= \
                set(result)
        assert 'configs/kinetics400_video_gpu-decode.py' in names
        assert {'probes/torchcodec.json', 'equality.json', 'steps.tsv',
                'logs/bench_k400_fast_w1.log'} <= names
    assert (work / 'videos' / 'k400' / 'videos.txt').is_file()  # kept
