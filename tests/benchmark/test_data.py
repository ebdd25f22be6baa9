"""The data benchmark on the synthetic demo data: clips (not items) are
counted, the stock baseline reads mmaction2's pipeline, and the per-worker
speedup follows the measured seconds (known ones here)."""
import pytest

from adaptformer_mm.apis import load_config
from adaptformer_mm.benchmark import data as benchmark_data
from adaptformer_mm.benchmark.data import (format_data_benchmark,
                                           run_data_benchmark,
                                           stock_pipeline)

from ..conftest import DEMO_CONFIG

# The synthetic demo data at the size the other tests share (written once).
SYNTH_SMALL = {'train_dataloader.dataset.num_train': 16,
               'train_dataloader.dataset.num_val': 8}
# Seconds reported for reading a dataset, by its class: clips are read and
# counted as ever, only the clock is replaced.
SECONDS = {'RepeatedAugDataset': 1.5, 'SyntheticVideoDataset': 2.0}


@pytest.fixture
def known_seconds(monkeypatch):
    """``time_dataset`` reads every item, but reports :data:`SECONDS`."""
    real = benchmark_data.time_dataset

    def time_dataset(dataset, *args, **kwargs):
        _, clips = real(dataset, *args, **kwargs)
        return SECONDS[type(dataset).__name__], clips

    monkeypatch.setattr(benchmark_data, 'time_dataset', time_dataset)


def test_repeated_aug_items_count_as_k_clips_and_baseline_is_stock(
        synthetic_root, known_seconds):
    cfg = load_config(DEMO_CONFIG)
    cfg.merge_from_dict(SYNTH_SMALL)
    cfg.train_dataloader.dataset = dict(
        type='RepeatedAugDataset', num_repeats=3,
        dataset=cfg.train_dataloader.dataset)
    result = run_data_benchmark(cfg, samples=2, data_root=synthetic_root,
                                baseline=True, target_rate=100)
    assert result['dataset'] == 'RepeatedAugDataset'
    assert result['clips'] == 6  # 2 items x K=3
    stock = result['baseline']
    assert stock['dataset'] == 'SyntheticVideoDataset'
    assert stock['clips'] == 2
    assert stock['data_root'] == result['data_root'] == synthetic_root
    # 6 clips in 1.5 s against 2 clips in 2 s: 4 clips/s against 1, so 4x
    # per worker, and 25 workers against 100 for 100 clips/s.
    assert (result['clips_per_s'], stock['clips_per_s']) == (4.0, 1.0)
    assert result['speedup_per_worker'] == 4.0
    assert (result['workers_needed'], stock['workers_needed']) == (25, 100)
    text = format_data_benchmark(result)
    assert 'stock mmaction2: 2 clips in 2.00 s = 1.00 clips/s' in text
    assert 'this pipeline: 6 clips in 1.50 s = 4.00 clips/s' in text
    assert 'per-worker speedup over stock: 4.00x' in text


def test_a_missing_split_names_the_splits_there_are():
    with pytest.raises(KeyError, match=r"no `nope_dataloader.dataset`.*"
                       r"splits with a dataset: \[.*'train'"):
        run_data_benchmark(load_config(DEMO_CONFIG), split='nope')


def test_stock_pipeline_replaces_only_our_loading_steps():
    ours = [dict(type='ScaledDecordInit', short_side=240, num_threads=2),
            dict(type='SampleFrames', clip_len=8),
            dict(type='ScaledDecordDecode'),
            dict(type='CenterCrop', crop_size=224)]
    assert stock_pipeline(ours) == [
        dict(type='DecordInit', num_threads=2),
        dict(type='SampleFrames', clip_len=8),
        dict(type='DecordDecode'),
        dict(type='Resize', scale=(-1, 240)),
        dict(type='CenterCrop', crop_size=224)]
    gpu = [dict(type='GPUDecodeInit'), dict(type='GPUDecode')]
    assert stock_pipeline(gpu) == [dict(type='DecordInit', num_threads=1),
                                   dict(type='DecordDecode')]
    stock = [dict(type='DecordInit'), dict(type='DecordDecode')]
    assert stock_pipeline(stock) == stock
