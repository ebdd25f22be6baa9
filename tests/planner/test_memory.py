"""The planner against real CPU training steps of the demo methods.

What autograd saves, the step's peak and its FLOPs, as the planner reads
them from fake tensors, are equal, byte for byte, to those of a real CPU step
of the same model at the same shape (saved bytes counted here with
``saved_tensors_hooks`` on the real tensors, independently of the planner);
the peak agrees with the CPU allocator's own count; the total agrees with
``tools/benchmark.py``'s measured peak (``test_plan.py`` in tests/tools).
"""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import OPTIMIZERS
from torch.multiprocessing.reductions import StorageWeakRef

from adaptformer_mm.apis import build_model, load_config
from adaptformer_mm.planner import (PlanningError, parse_memory, plan_config,
                                    record_step)
from adaptformer_mm.planner.fake_step import autocast_for
from adaptformer_mm.planner.memory import (Envelope, PerClip, config_batch,
                                           usable_bytes)
from adaptformer_mm.benchmark.model import (AMP_DTYPES, benchmark_model_cfg,
                                            num_classes, random_batch)
from adaptformer_mm.benchmark.input_shape import config_input_shape
from adaptformer_mm.benchmark.measure import count_flops
from mmaction.registry import MODELS
from ..conftest import REPO

DEMO = {
    osp.basename(p).split('_')[0]: p
    for p in glob.glob(osp.join(REPO, 'configs', 'demo',
                                '*synthetic-dynamics.py'))
    if not osp.basename(p).startswith('_')
}
PEFT = sorted(set(DEMO) - {'full-finetune'})
# The demo recognizers shrunk further (embed 32, 2 heads, 8x64x64 clips);
# depth stays 4, so that "below the first tuned block" means something.
TINY = {'model.backbone.embed_dims': 32, 'model.backbone.num_heads': 2,
        'model.cls_head.in_channels': 32}
BATCH = 3  # neither probe batch (2, 4): the plan's lines are tested too


def demo_cfg(method, **overrides):
    cfg = load_config(DEMO[method])
    cfg.merge_from_dict(dict(TINY, **overrides))
    return cfg


_PLANS = {}


def plan_of(method, device='cpu', amp='none', with_cp=False, **overrides):
    """The plan of a demo config at :data:`BATCH` (each planned once)."""
    key = (method, device, amp, with_cp, repr(sorted(overrides.items())))
    if key not in _PLANS:
        _PLANS[key] = plan_config(demo_cfg(method, **overrides),
                                  batch=BATCH, device=device, amp=amp,
                                  with_cp=with_cp)
    return _PLANS[key]


@pytest.fixture(scope='module', autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def real_model(cfg):
    shape = config_input_shape(cfg)
    model_cfg = benchmark_model_cfg(cfg, shape)
    torch.manual_seed(0)
    model = build_model(Config(dict(model=model_cfg,
                                    default_scope='mmaction')), 'cpu')
    inputs, samples = random_batch(shape, BATCH, num_classes(model_cfg),
                                   torch.device('cpu'))
    return model.train(), inputs, samples


def saved_by_real_step(cfg, amp='none'):
    """Bytes of the unique storages autograd saves in a real CPU training
    forward of ``cfg``'s model at :data:`BATCH` and holds when it returns,
    parameters, buffers and the input left out (not activations)."""
    model, inputs, samples = real_model(cfg)
    kept = {t.untyped_storage().data_ptr()
            for t in [*model.parameters(), *model.buffers(), inputs]}
    saved = []

    def pack(tensor):
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in kept:
            saved.append((StorageWeakRef(storage), storage.data_ptr(),
                          storage.nbytes()))
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        with autocast_for('cpu', AMP_DTYPES[amp]):
            losses = model(inputs, samples, mode='loss')
        loss = model.parse_losses(losses)[0]
    held = {ptr: size for ref, ptr, size in saved if not ref.expired()}
    del loss
    return sum(held.values())


@pytest.mark.parametrize('method', sorted(DEMO))
def test_plan_equals_a_real_cpu_step(method):
    cfg = demo_cfg(method)
    plan = plan_of(method)
    assert plan.saved.at(BATCH) == saved_by_real_step(cfg)

    model, inputs, samples = real_model(cfg)
    real = record_step(model, inputs, samples, 'cpu', None)
    assert plan.working_set.at(BATCH) == real.peak
    assert plan.grad_bytes == real.grads

    def step():
        model.parse_losses(model(inputs, samples, mode='loss'))[0].backward()

    model.zero_grad(set_to_none=True)
    assert plan.train_flops_per_clip * BATCH == count_flops(step)
    assert plan.attention.startswith('sdpa, CPU flash kernel')


@pytest.mark.parametrize('method,overrides,amp', [
    ('full-finetune', {'model.backbone.with_cp': True}, 'none'),
    ('adaptformer-8', {'model.backbone.with_cp': True}, 'bf16'),
    ('full-finetune', {}, 'bf16'),
    ('vpt-deep-4', {'model.backbone.attn_impl': 'eager'}, 'bf16'),
])
def test_plan_equals_real_step_under_checkpointing_autocast_eager(
        method, overrides, amp):
    cfg = demo_cfg(method, **overrides)
    plan = plan_of(method, amp=amp, **overrides)
    assert plan.saved.at(BATCH) == saved_by_real_step(cfg, amp)
    model, inputs, samples = real_model(cfg)
    real = record_step(model, inputs, samples, 'cpu', AMP_DTYPES[amp])
    assert plan.working_set.at(BATCH) == real.peak


def test_cpu_allocator_sees_the_planned_peak():
    """The peak agrees with every allocation the CPU allocator reports
    to torch.profiler (kernel scratch included), within 4 KiB: a kernel's
    scratch of a few bytes, which no operator returns."""
    from torch.profiler import ProfilerActivity, profile
    for method in ('full-finetune', 'adaptformer-8'):
        plan = plan_of(method)
        model, inputs, samples = real_model(demo_cfg(method))
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) \
                as prof:
            model.parse_losses(model(inputs, samples,
                                     mode='loss'))[0].backward()
        events = sorted((e.start_ns(), e.nbytes())
                        for e in prof.profiler.kineto_results.events()
                        if e.name() == '[memory]')
        live = peak = 0
        for _, change in events:
            live += change
            peak = max(peak, live)
        assert abs(peak - plan.working_set.at(BATCH)) <= 4096, method


def test_checkpointing_and_peft_keep_less():
    full = plan_of('full-finetune')
    full_cp = plan_of('full-finetune', **{'model.backbone.with_cp': True})
    assert full_cp.saved.per_clip < full.saved.per_clip
    assert full_cp.working_set.at(8) < full.working_set.at(8)
    assert plan_of('full-finetune', with_cp=True).saved == full_cp.saved
    for method in PEFT:
        assert plan_of(method).saved.per_clip < full.saved.per_clip, method


def test_nothing_below_the_first_tuned_block_is_kept():
    """Adapters in the top block only: a 4-block backbone saves exactly
    what a 2-block one saves (blocks 0-2 vs block 0 run without autograd);
    adapters in the bottom block keep all four blocks."""
    def adapters(layer, depth=4):
        cfg = demo_cfg('adaptformer-8', **{
            'model.backbone.depth': depth,
            'model.backbone.adapter_cfg.layers': [layer]})
        return plan_config(cfg, device='cpu').saved

    top = adapters(3)
    assert top == adapters(1, depth=2)
    assert adapters(0).per_clip > top.per_clip


@pytest.mark.parametrize('optimizer,per_value', [
    (dict(type='AdamW', lr=1e-3), 8),
    (dict(type='SGD', lr=0.1, momentum=0.9), 4),
    (dict(type='SGD', lr=0.1), 0),
])
def test_optimizer_state_equals_a_real_step(optimizer, per_value):
    cfg = demo_cfg('adaptformer-8', **{
        'optim_wrapper.optimizer': dict(optimizer, _delete_=True)})
    plan = plan_config(cfg, device='cpu')
    model, inputs, samples = real_model(cfg)
    trainable = [p for p in model.parameters() if p.requires_grad]
    real = OPTIMIZERS.build(dict(optimizer, params=trainable))
    model.parse_losses(model(inputs, samples, mode='loss'))[0].backward()
    real.step()
    state = sum(v.numel() * v.element_size() for s in real.state.values()
                for v in s.values() if torch.is_tensor(v) and v.dim())
    assert plan.optimizer_state_bytes == state
    assert state == per_value * sum(p.numel() for p in trainable)


def test_gpu_plan_names_the_kernel_and_keeps_no_attention_weights():
    two = {'model.backbone.depth': 2}
    sdpa = plan_of('full-finetune', 'cuda', 'bf16', **two)
    eager = plan_of('full-finetune', 'cuda', 'bf16', **two,
                    **{'model.backbone.attn_impl': 'eager'})
    fp32 = plan_of('full-finetune', 'cuda', **two)
    assert sdpa.attention.startswith('sdpa, flash kernel')
    assert fp32.attention.startswith('sdpa, memory-efficient kernel')
    assert eager.attention.startswith('eager softmax(QK^T)V')
    # Eager keeps the float32 softmax of every head (CUDA autocast runs
    # softmax in float32): 2 blocks x 2 heads x 64^2 tokens x 4 bytes.
    weights = 2 * 2 * 64 * 64 * 4
    assert eager.saved.per_clip - sdpa.saved.per_clip >= weights


def test_largest_batch_is_the_last_that_fits():
    plan = plan_config(demo_cfg('full-finetune'), device='cpu',
                       memory=parse_memory('40M'))
    largest = plan.largest_batch()
    assert largest > 1
    assert plan.total_bytes(largest) <= plan.usable_bytes
    assert plan.total_bytes(largest + 1) > plan.usable_bytes
    assert plan.usable_bytes == usable_bytes(40 * 2**20, 'cpu')
    assert usable_bytes(24 * 2**30, 'cuda') == int(0.9 * 23.5 * 2**30)


def test_envelope_is_the_most_of_its_lines_from_batch_one():
    lines = [PerClip(10, 1), PerClip(0, 3), PerClip(5, 2), PerClip(0, 0.5),
             PerClip(40, 0), PerClip(-100, 7), PerClip(5, 2)]
    envelope = Envelope.of(lines)
    for batch in range(1, 200):
        assert envelope.at(batch) == max(line.at(batch) for line in lines)
    assert PerClip(0, 0.5) not in envelope.lines  # never on top


def test_default_batch_is_the_clips_of_a_step():
    fast = load_config(osp.join(
        REPO, 'configs', 'adaptformer', 'adaptformer-64_vit-base-p16_'
        'videomae-k400-pre_8xb64x2-8x4x1-45e_ssv2-fast.py'))
    assert fast.train_dataloader.batch_size == 64
    assert config_batch(fast) == 128  # 2 augmented clips per video
    assert config_batch(demo_cfg('lora-2')) == \
        demo_cfg('lora-2').train_dataloader.batch_size


def test_memory_sizes():
    assert parse_memory('24G') == parse_memory('24GB') == \
        parse_memory('24GiB') == parse_memory('24 gib') == 24 * 2**30
    assert parse_memory('80000M') == 80000 * 2**20
    assert parse_memory('1.5T') == int(1.5 * 2**40)
    for bad in ('24X', '24', 'G', '0G', '-1G'):
        with pytest.raises(ValueError, match='24G, 24GB, 24GiB, 80000M'):
            parse_memory(bad)


def test_planning_leaves_the_process_as_it_was():
    """No random numbers drawn, no fake tensor left in a model's cache
    (mmaction2's Swin caches its shifted-window mask by device): a real
    step of the same model runs after the plan."""
    cfg = load_config(osp.join(
        REPO, 'configs', 'lora',
        'lora-8_swin-base-p244-w877_in1k-k400-pre_8xb128-8x4x1-90e_ssv2.py'))
    cfg.merge_from_dict({  # one stage of two blocks, the second shifted
        'model.backbone.arch': dict(_delete_=True, embed_dims=16,
                                    depths=[2], num_heads=[1]),
        'model.backbone.out_indices': (0, ),
        'model.cls_head.in_channels': 16,
    })
    state = torch.get_rng_state()
    plan_config(cfg, batch=2, frames=4, size=56, device='cpu')
    assert torch.equal(torch.get_rng_state(), state)
    shape = config_input_shape(cfg, 4, 56)
    model = build_model(Config(dict(model=benchmark_model_cfg(cfg, shape),
                                    default_scope='mmaction')), 'cpu')
    inputs, samples = random_batch(shape, 2, 174, torch.device('cpu'))
    loss = model.train()(inputs, samples, mode='loss')['loss_cls']
    assert type(loss) is torch.Tensor and torch.isfinite(loss)


@MODELS.register_module()
class ValueReadingBackbone(torch.nn.Module):
    """Reads a weight's value while it builds (what the meta device
    cannot give)."""

    def __init__(self, **kwargs):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(1))
        self.factor = float(self.scale.sum().item())


def test_a_model_that_needs_values_to_build_is_named():
    cfg = demo_cfg('linear-probe')
    cfg.model.backbone = dict(type='ValueReadingBackbone')
    with pytest.raises(PlanningError,
                       match=r'ValueReadingBackbone.__init__ .*test_memory'):
        plan_config(cfg)
