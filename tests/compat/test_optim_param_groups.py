"""mmengine's compile=True works with paramwise_cfg (stack.md #4)."""
import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.optim import DefaultOptimWrapperConstructor
from torch import nn

import adaptformer_mm  # noqa: F401  (applies the fix)

OPTIM = dict(type='OptimWrapper',
             optimizer=dict(type='AdamW', lr=1e-2, weight_decay=0.05))
PARAMWISE = dict(norm_decay_mult=0.0, bias_decay_mult=0.0)


def _constructor():
    # The Runner hands the constructor ConfigDicts, as here.
    return DefaultOptimWrapperConstructor(ConfigDict(OPTIM),
                                          ConfigDict(PARAMWISE))


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 8), nn.LayerNorm(8), nn.Linear(8, 2))


def _train(model, optim_wrapper, compile_backend=None):
    def step(x, y):
        loss = nn.functional.cross_entropy(model(x), y)
        optim_wrapper.update_params(loss)
        return loss.detach()

    if compile_backend:
        torch._dynamo.reset()
        step = torch.compile(step, backend=compile_backend)
    gen = torch.Generator().manual_seed(1)
    for _ in range(3):
        step(torch.randn(4, 8, generator=gen),
             torch.randint(0, 2, (4,), generator=gen))
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_stock_constructor_groups_break_compile():
    model = _model()
    stock = DefaultOptimWrapperConstructor.__call__.__wrapped__
    wrapper = stock(_constructor(), model)
    assert all(isinstance(g, ConfigDict)
               for g in wrapper.optimizer.param_groups)
    with pytest.raises(Exception, match='UserDefinedDictVariable'):
        _train(model, wrapper, compile_backend='eager')


def test_patched_groups_are_plain_and_compiled_training_matches():
    model = _model()
    wrapper = _constructor()(model)
    groups = wrapper.optimizer.param_groups
    assert all(type(g) is dict for g in groups)
    # paramwise_cfg still decides the weight decay of each group.
    decays = {tuple(p.shape): g['weight_decay'] for g in groups
              for p in g['params']}
    assert decays == {(8, 8): 0.05, (8,): 0.0, (2, 8): 0.05, (2,): 0.0}
    compiled = _train(model, wrapper, compile_backend='eager')

    eager_model = _model()
    eager = _train(eager_model, _constructor()(eager_model))
    for key, value in eager.items():
        torch.testing.assert_close(compiled[key], value, msg=key)
