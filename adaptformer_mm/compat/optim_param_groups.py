"""mmengine's ``compile=True`` with ``paramwise_cfg`` (stack.md #4).

``DefaultOptimWrapperConstructor`` puts the parameter groups it builds from
``paramwise_cfg`` (or any ``params`` list) into the optimizer config, which
is a ``ConfigDict``; building the optimizer from that config turns every
group into a ``ConfigDict`` too. ``torch.compile`` of the Runner's
``train_step`` traces ``optimizer.step``, and dynamo cannot iterate a
``ConfigDict`` group: the first iteration fails with
``InternalTorchDynamoError: 'UserDefinedDictVariable' object has no
attribute 'items'``.

After the constructor has built the optimizer, each group becomes a plain
``dict`` with the same entries (the same parameter tensors, so optimizer
state and LR schedulers are unaffected). Nothing else changes.

Versions: written for mmengine 0.10.7; on another mmengine it is applied with
a warning (plain dict groups hold the same entries, so it is harmless where
the defect is gone).
"""

from ._guard import APPLY, version_guard, wrap_method

_MARK = '_adaptformer_mm_plain_param_groups'


def plain_param_groups(optimizer) -> None:
    """Replace ``ConfigDict`` groups of ``optimizer`` by plain dicts, in
    place (the list object stays the one schedulers hold)."""
    from mmengine.config import ConfigDict

    groups = optimizer.param_groups
    for i, group in enumerate(groups):
        if isinstance(group, ConfigDict):
            groups[i] = {key: group[key] for key in group}


def patch_optim_param_groups() -> None:
    if not version_guard('mmengine', '==0.10.7',
                         "mmengine's compile=True with paramwise_cfg",
                         elsewhere=APPLY):
        return
    from mmengine.optim import DefaultOptimWrapperConstructor

    def make(original):
        def __call__(self, model):
            optim_wrapper = original(self, model)
            plain_param_groups(optim_wrapper.optimizer)
            return optim_wrapper
        return __call__

    wrap_method(DefaultOptimWrapperConstructor, '__call__', _MARK, make)
