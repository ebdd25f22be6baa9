"""tools/count_params.py reports what the build-time summary says."""
from adaptformer_mm.apis import build_model
from adaptformer_mm.peft import summarize_parameters
from ..apis.tiny_tasks import load_tool, tiny_cfg
from ..conftest import DEMO_CONFIG


def test_report_equals_summary_of_built_model(tmp_path, capsys):
    config = str(tmp_path / 'tiny.py')
    tiny_cfg(7, method='VPTVideoViT').dump(config)
    summary = load_tool('count_params').main([config])
    expected = summarize_parameters(build_model(config))
    assert summary == expected
    out = capsys.readouterr().out
    assert expected.format() in out
    assert (f'tunable: {expected.trainable / 1e6:.2f}M '
            f'({expected.percent:.2f}%)') in out
    assert 'backbone: VPTVideoViT' in out


def test_vit_b_adaptformer_64_has_1_19m_adapter_params(capsys):
    summary = load_tool('count_params').main([
        DEMO_CONFIG, '--cfg-options',
        'model.backbone.type=AdaptFormerVideoViT',
        'model.backbone.embed_dims=768', 'model.backbone.depth=12',
        'model.backbone.num_heads=12', 'model.backbone.img_size=224',
        'model.backbone.num_frames=16', 'model.cls_head.in_channels=768',
        'model.cls_head.num_classes=174'])
    out = capsys.readouterr().out
    assert 'backbone.blocks.{0-11}.adaptmlp' in out
    assert '12 x 99,136 = 1,189,632' in out
    # adapters + fc_norm + head (TimeSformerHead: Linear 768 -> 174)
    assert summary.trainable == 1_189_632 + 1_536 + 768 * 174 + 174
    assert f'trainable params: {summary.trainable:,}' in out


def test_counting_allocates_no_weights(tmp_path):
    """The tool builds on the meta device: same counts and trainable flags
    as the real model, no parameter storage (a ViT-g is counted without its
    4 GB; tests/configs/test_vit_scales.py counts every width)."""
    config = str(tmp_path / 'tiny.py')
    tiny_cfg(7, method='AdaptFormerVideoViT').dump(config)
    tool = load_tool('count_params')
    meta = tool.build_on_meta(tool.load_config(config))
    real = build_model(config)
    assert all(p.is_meta for p in meta.parameters())
    assert [(n, p.shape, p.requires_grad) for n, p in meta.named_parameters()
            ] == [(n, p.shape, p.requires_grad)
                  for n, p in real.named_parameters()]
    assert summarize_parameters(meta) == summarize_parameters(real)
