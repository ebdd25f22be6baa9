"""Fold LoRA into the frozen weights before testing (``tools/test.py
--merge-lora``)."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from adaptformer_mm.peft import merge_lora


@HOOKS.register_module()
class MergeLoRAHook(Hook):
    """Merge every LoRA branch into its frozen linear layer in
    ``before_test``, so that the test runs the stock model's modules at the
    stock model's cost (:func:`adaptformer_mm.peft.merge_lora`).

    ``before_test`` runs after the checkpoint is loaded (a tunable-only one
    completed by ``TunableCheckpointHook`` included), so the merged weights
    are the trained ones. Meant for testing only: after the merge the LoRA
    tensors are gone and nothing of the backbone trains.

    Raises:
        ValueError: the model has no LoRA layer.
    """

    priority = 'VERY_HIGH'

    def before_test(self, runner) -> None:
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        merged = merge_lora(model, require=True)
        runner.logger.info(f'MergeLoRAHook: merged LoRA into {merged} '
                           'linear layers (stock modules from here on)')
