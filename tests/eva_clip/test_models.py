"""Registered EVA-CLIP models, the tokenizer, and the errors for bad inputs."""

from __future__ import annotations

import pytest
import torch

import vision
from eva_clip.convert import checkpoint_filter_fn, export_state_dict
from eva_clip.models import MODEL_CFGS, OFFICIAL_NAMES
from eva_clip.tokenizer import SimpleTokenizer, tokenize
from vision.checkpoint import CheckpointMismatchError

# name -> (image size, embed dim, vision width, depth, text width, text layers)
EXPECTED = {
    "eva01_clip_giant_patch14_224": (224, 1024, 1408, 40, 768, 12),
    "eva01_clip_giant_patch14_plus_224": (224, 1024, 1408, 40, 1024, 24),
    "eva02_clip_base_patch16_224": (224, 512, 768, 12, 512, 12),
    "eva02_clip_large_patch14_224": (224, 768, 1024, 24, 768, 12),
    "eva02_clip_large_patch14_336": (336, 768, 1024, 24, 768, 12),
    "eva02_clip_enormous_patch14_224": (224, 1024, 1792, 64, 1024, 24),
    "eva02_clip_enormous_patch14_plus_224": (224, 1024, 1792, 64, 1280, 32),
    "eva_clip_8b_patch14_224": (224, 1280, 4096, 32, 1280, 32),
    "eva_clip_18b_patch14_224": (224, 1536, 5120, 48, 1280, 32),
}


def test_every_official_model_is_registered():
    assert set(vision.list_models("eva*clip*")) >= set(EXPECTED)
    assert set(OFFICIAL_NAMES.values()) == set(MODEL_CFGS) == set(EXPECTED)
    weights = {n.partition(".")[0] for n in vision.list_pretrained("eva*")}
    assert weights >= set(EXPECTED)  # every official model has its official weights registered


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_models_build_on_meta_with_their_sizes(name):
    size, dim, width, depth, text_width, text_layers = EXPECTED[name]
    with torch.device("meta"):
        model = vision.create_model(name)
    assert model.image_size == (size, size)
    assert model.visual.head.out_features == dim and model.text.text_projection.shape == (text_width, dim)
    assert model.visual.embed_dim == width and len(model.visual.blocks) == depth
    assert len(model.text.transformer.resblocks) == text_layers
    assert model.mean == (0.48145466, 0.4578275, 0.40821073)
    if name.startswith("eva02_clip_base") or name.startswith("eva02_clip_large"):
        assert model.visual.blocks[0].attn.inner_attn_ln.weight.shape == (width,)  # the EVA-CLIP sub-LN
    if name.startswith("eva_clip_"):  # published totals: EVA-CLIP-8B 8.1B, EVA-CLIP-18B 18.1B parameters
        billions = sum(p.numel() for p in model.parameters()) / 1e9
        assert abs(billions - (8.1 if "_8b_" in name else 18.1)) < 0.3, billions


def test_text_tower_uses_eps_1e5_and_is_causal(make_clip):
    model = make_clip()
    assert model.text.ln_final.eps == 1e-5
    ids = tokenize(["a photo of a cat", "a photo of a cat and a very long tail of words"])
    with torch.no_grad():
        tokens = model.text.encode_tokens(ids)
        changed = ids.clone()
        changed[:, 10:] = 400  # edit positions after 10: the first 10 outputs must not move
        torch.testing.assert_close(model.text.encode_tokens(changed)[:, :10], tokens[:, :10])
        # pooled output with the context trimmed to the EOT equals pooling the full-context tokens
        eot = ids.argmax(-1)
        full = tokens[torch.arange(2), eot] @ model.text.text_projection
        torch.testing.assert_close(model.encode_text(ids), full, rtol=1e-5, atol=1e-6)


def test_tokenizer_truncates_long_captions_and_keeps_eot():
    tok = SimpleTokenizer()
    ids = tok(["word " * 200, "a cat"], context_length=16)
    assert ids.shape == (2, 16) and ids.dtype == torch.long
    assert ids[0, 0] == tok.sot_token_id and ids[0, -1] == tok.eot_token_id and (ids[0] > 0).all()
    assert ids[1, :4].tolist() == [tok.sot_token_id, *tok.encode("a cat"), tok.eot_token_id]
    assert tok.decode(tok.encode("A Photo, of   a CAT!")).split() == ["a", "photo", ",", "of", "a", "cat", "!"]


def test_bad_text_inputs(make_clip):
    model = make_clip()
    with pytest.raises(ValueError, match="context length is 77"):
        model.encode_text(torch.ones(1, 78, dtype=torch.long))
    with pytest.raises(ValueError, match="integer token ids"):
        model.encode_text(torch.ones(1, 5))
    with pytest.raises(TypeError, match="must be strings"):
        tokenize(["ok", 3])
    with pytest.raises(FileNotFoundError, match="vocabulary not found"):
        SimpleTokenizer(vocab_path="/nonexistent/bpe.txt.gz")


def test_wrong_model_checkpoint_fails_clearly(make_clip):
    small = make_clip()
    other = make_clip(embed_dim=48)
    with pytest.raises(CheckpointMismatchError, match="shape mismatch"):
        vision.load_checkpoint(other, export_state_dict(small))
    vision_only = {k.removeprefix("visual."): v for k, v in export_state_dict(small).items() if "visual." in k}
    with pytest.raises(ValueError, match="not an EVA-CLIP checkpoint.*'text"):
        checkpoint_filter_fn(vision_only, small)


def test_open_clip_format_round_trips(make_clip, tmp_path):
    model, fresh = make_clip(seed=0), make_clip(seed=1)
    path = tmp_path / "open_clip.safetensors"
    from vision.checkpoint import save_state_dict

    save_state_dict(export_state_dict(model, "open_clip"), path)
    assert vision.load_checkpoint(fresh, path).ok
    image = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(fresh.encode_image(image), model.encode_image(image))
    with pytest.raises(ValueError, match="unknown export format"):
        export_state_dict(model, "hf")


def test_convert_checkpoint_tool_official_to_shijie_and_back(v4, tmp_path):
    """tools/convert_checkpoint.py: the V4 official dict -> Shijie safetensors -> official again, values kept."""
    import json
    import sys

    from vision.checkpoint import load_state_dict

    sys.path.insert(0, "tools")
    try:
        import convert_checkpoint
    finally:
        sys.path.remove("tools")
    src = tmp_path / "official.pt"
    torch.save(v4["state_dict"], src)
    model_args = json.dumps(
        dict(
            embed_dim=64,
            vision_cfg=dict(embed_dim=128, depth=2, num_heads=2),
            text_cfg=dict(width=16, heads=2, layers=2),
        )
    )
    common = ["--model", "eva02_clip_base_patch16_224", "--model-args", model_args]
    assert convert_checkpoint.main([str(src), str(tmp_path / "ours.safetensors"), *common]) == 0
    back = tmp_path / "official.safetensors"
    assert convert_checkpoint.main([str(tmp_path / "ours.safetensors"), str(back), *common, "--to", "official"]) == 0
    exported = load_state_dict(back)
    assert set(exported) == set(v4["state_dict"])
    for key, value in v4["state_dict"].items():
        torch.testing.assert_close(exported[key], value, rtol=0, atol=1e-6)
