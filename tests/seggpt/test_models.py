"""SegGPT model: the official V6 fixture (incl. run_one_image), transformers' SegGPT both ways, the ensemble."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

import vision
from seggpt.convert import export_state_dict, from_transformers, transformers_config
from vision.checkpoint import load_checkpoint

NAME = "seggpt_vit_test_patch16_input128x64"
CLOSE = dict(rtol=1e-5, atol=1e-5)


def read_fixture(path: Path) -> tuple[dict, dict, dict]:
    with safe_open(str(path), framework="pt") as f:
        manifest = json.loads(f.metadata()["manifest"])
        t = {k: f.get_tensor(k) for k in f.keys()}
    sd = {k: t["state_dict." + k] for k in manifest["state_dict_keys_in_order"]}
    inp = {k[6:]: v for k, v in t.items() if k.startswith("input.")}
    out = {k[7:]: v for k, v in t.items() if k.startswith("output.")}
    return sd, inp, out


@pytest.fixture(scope="module")
def v6(fixtures_dir):
    return read_fixture(fixtures_dir / "V6_seggpt_reduced_1prompt_semantic.safetensors")


@pytest.fixture(scope="module")
def model(v6):
    m = vision.create_model(NAME).eval()
    assert load_checkpoint(m, v6[0]).ok
    return m


def test_registered_names():
    assert {"seggpt_vit_large_patch16_input896x448", NAME} <= set(vision.list_models("seggpt*"))


def test_official_fixture_v6(model, v6):
    _, inp, out = v6
    hooks = {}
    handles = [
        model.blocks[i].register_forward_hook(lambda m, a, o, i=i: hooks.__setitem__(i, o)) for i in (0, 2, 3, 23)
    ]
    with torch.no_grad():
        loss, pred, mask = model(inp["imgs"], inp["tgts"], inp["bool_masked_pos"], inp["valid"], inp["seg_type"], -1)
        mask_flat = inp["bool_masked_pos"].flatten(1).bool()
        latent = model.forward_encoder(inp["imgs"], inp["tgts"], mask_flat, inp["seg_type"])
    for h in handles:
        h.remove()
    torch.testing.assert_close(loss, out["loss"], **CLOSE)
    torch.testing.assert_close(pred, out["pred_patchified"], **CLOSE)
    assert torch.equal(mask, out["mask_returned"])
    for i in range(4):
        torch.testing.assert_close(latent[i], out[f"latent.{i}"], **CLOSE)
    for i in (0, 2):
        torch.testing.assert_close(hooks[i], out[f"hidden.block{i}"], rtol=1e-5, atol=2e-5)
    for i in (3, 23):
        torch.testing.assert_close(hooks[i], out[f"hidden.block{i}"], **CLOSE)


def test_run_one_image_v6(model, v6):
    _, inp, out = v6
    query = model.predict(inp["imgs"], inp["tgts"], seg_type="semantic")  # (1, 3, 64, 64), the masked half only
    mean, std = torch.tensor([0.485, 0.456, 0.406]).double(), torch.tensor([0.229, 0.224, 0.225]).double()
    image = torch.clip((query[0].permute(1, 2, 0).double() * std + mean) * 255, 0, 255)
    torch.testing.assert_close(image, out["run_one_image"], rtol=0, atol=1e-3)


def test_seg_type_accepts_names_and_official_tensors(model, v6):
    _, inp, _ = v6
    by_name = model.type_embed("semantic", 1)
    torch.testing.assert_close(by_name, model.type_embed(torch.zeros(1, 1), 1))
    torch.testing.assert_close(model.type_embed(None, 2), model.type_token_ins.expand(2, -1, -1, -1))
    with pytest.raises(ValueError, match="seg_type"):
        model.type_embed("panoptic", 1)


def test_painter_checkpoint_is_refused(v6):
    sd = {k: v for k, v in v6[0].items() if not k.startswith("type_token")}
    with pytest.raises(ValueError, match="Painter checkpoint"):
        load_checkpoint(vision.create_model(NAME), sd)


def prompts(n: int, seed: int = 1) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    p_img, p_mask = torch.randn(n, 3, 64, 64, generator=g), torch.randn(n, 3, 64, 64, generator=g)
    query = torch.randn(1, 3, 64, 64, generator=g).expand(n, -1, -1, -1)
    return p_img, p_mask, query


def test_identical_prompts_ensemble_to_the_single_prompt_result(model):
    p_img, p_mask, query = prompts(1)
    imgs, tgts = torch.cat([p_img, query], 2), torch.cat([p_mask, p_mask], 2)
    one = model.predict(imgs, tgts, "semantic")
    three = model.predict(imgs.expand(3, -1, -1, -1), tgts.expand(3, -1, -1, -1), "semantic")
    torch.testing.assert_close(three, one, **CLOSE)


@pytest.fixture(scope="module")
def hf_pair(model):
    transformers = pytest.importorskip("transformers")
    hf = transformers.SegGptForImageSegmentation(transformers.SegGptConfig(**transformers_config(model))).eval()
    hf.load_state_dict(export_state_dict(model, "transformers"), strict=True)  # every key, exact names
    return hf


def test_transformers_export_reproduces_the_fixture(hf_pair, v6):
    _, inp, out = v6
    imgs, tgts = inp["imgs"], inp["tgts"]
    with torch.no_grad():
        pred = hf_pair(
            pixel_values=imgs[:, :, 64:],
            prompt_pixel_values=imgs[:, :, :64],
            prompt_masks=tgts[:, :, :64],
            embedding_type="semantic",
            feature_ensemble=False,
        ).pred_masks
    ref = vision.create_model(NAME).unpatchify(out["pred_patchified"])
    torch.testing.assert_close(pred, ref, **CLOSE)


def test_random_transformers_model_converts_into_ours(hf_pair):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(3)
    hf = transformers.SegGptForImageSegmentation(hf_pair.config).eval()  # fresh random weights
    ours = from_transformers(hf, vision.create_model(NAME).eval())
    p_img, p_mask, query = prompts(2)
    with torch.no_grad():
        theirs = hf(pixel_values=query, prompt_pixel_values=p_img, prompt_masks=p_mask, embedding_type="instance")
        mask = torch.zeros(1, 32, dtype=torch.bool)
        mask[:, 16:] = True
        _, pred, _ = ours(torch.cat([p_img, query], 2), torch.cat([p_mask, p_mask], 2), mask, None, "instance")
    torch.testing.assert_close(ours.unpatchify(pred), theirs.pred_masks, **CLOSE)
    back = export_state_dict(ours, "transformers")
    assert back.keys() == hf.state_dict().keys()
    assert all(torch.equal(back[k], v) for k, v in hf.state_dict().items())


def test_transformers_merge_block_ensemble_differs_from_official(model, hf_pair):
    """Documented disagreement: with several prompts transformers averages both streams in the merge block, so
    identical prompts no longer give the single-prompt answer there; ours (the official rule) does."""
    p_img, p_mask, query = prompts(1)
    kw = dict(embedding_type="semantic")
    with torch.no_grad():
        one = hf_pair(pixel_values=query, prompt_pixel_values=p_img, prompt_masks=p_mask, **kw).pred_masks
        three = hf_pair(
            pixel_values=query.expand(3, -1, -1, -1),
            prompt_pixel_values=p_img.expand(3, -1, -1, -1),
            prompt_masks=p_mask.expand(3, -1, -1, -1),
            feature_ensemble=True,
            **kw,
        ).pred_masks
    gap = (three[:1, :, 64:] - one[:, :, 64:]).abs().max().item()
    assert gap > 1e-3, gap


def test_shared_query_fast_path_equals_the_batched_ensemble(model):
    p_img, p_mask, query = prompts(3, seed=7)
    imgs, tgts = torch.cat([p_img, query], 2), torch.cat([p_mask, p_mask], 2)
    fast = model.predict(imgs, tgts, "instance")  # same query in every canvas -> query half computed once
    mask = torch.zeros(1, 32, dtype=torch.bool)
    mask[:, 16:] = True
    with torch.no_grad():
        feats = model.forward_encoder(imgs, tgts, mask, "instance", feature_ensemble=0)  # official batched rule
        ref = model.forward_decoder([f[:1] for f in feats], query_only=True)
    torch.testing.assert_close(fast, ref, **CLOSE)


def test_convert_tool_writes_the_transformers_layout(v6, tmp_path):
    from safetensors.torch import load_file, save_file

    from tools.convert_checkpoint import main

    src, dst = tmp_path / "official.safetensors", tmp_path / "hf.safetensors"
    save_file(v6[0], str(src))
    assert main([str(src), str(dst), "--model", NAME, "--to", "transformers"]) == 0
    hf = load_file(str(dst))
    assert "model.encoder.layers.23.attention.rel_pos_h" in hf and len(hf) == len(v6[0])
    torch.testing.assert_close(hf["model.embeddings.type_token_semantic"], v6[0]["type_token_cls"])
