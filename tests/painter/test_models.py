"""Painter model: the official V5 fixture, Painter's loss rule, and refusing a SegGPT checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

import vision
from vision.checkpoint import load_checkpoint


def read_fixture(path: Path) -> tuple[dict, dict, dict]:
    with safe_open(str(path), framework="pt") as f:
        manifest = json.loads(f.metadata()["manifest"])
        t = {k: f.get_tensor(k) for k in f.keys()}
    sd = {k: t["state_dict." + k] for k in manifest["state_dict_keys_in_order"]}
    inp = {k[6:]: v for k, v in t.items() if k.startswith("input.")}
    out = {k[7:]: v for k, v in t.items() if k.startswith("output.")}
    return sd, inp, out


@pytest.fixture(scope="module")
def v5(fixtures_dir):
    return read_fixture(fixtures_dir / "V5_painter_reduced_128x64.safetensors")


def test_registered_names():
    assert {"painter_vit_large_patch16_input896x448", "painter_vit_test_patch16_input128x64"} <= set(
        vision.list_models("painter*")
    )


def test_official_fixture_v5(v5):
    sd, inp, out = v5
    model = vision.create_model("painter_vit_test_patch16_input128x64").eval()
    assert load_checkpoint(model, sd).ok
    hooks = {}
    for i in (0, 2, 3, 23):
        model.blocks[i].register_forward_hook(lambda m, a, o, i=i: hooks.__setitem__(i, o))
    valid = inp["valid"].clone()
    with torch.no_grad():
        loss, pred, mask = model(inp["imgs"], inp["tgts"], bool_masked_pos=inp["bool_masked_pos"], valid=valid)
        latent = model.forward_encoder(inp["imgs"], inp["tgts"], inp["bool_masked_pos"].flatten(1).bool())
    assert torch.equal(valid, inp["valid"])  # unlike the official forward_loss, ours leaves valid alone
    close = dict(rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(loss, out["loss"], **close)
    torch.testing.assert_close(pred, out["pred_patchified"], **close)
    assert torch.equal(mask, out["mask_returned"])
    for i in range(4):
        torch.testing.assert_close(latent[i], out[f"latent.{i}"], **close)
    for i in (0, 2, 3, 23):
        torch.testing.assert_close(hooks[i], out[f"hidden.block{i}"], **close)


def test_blank_targets_are_left_out_of_the_loss(v5):
    sd, inp, _ = v5
    model = vision.create_model("painter_vit_test_patch16_input128x64").eval()
    load_checkpoint(model, sd)
    mean = torch.tensor([0.485, 0.456, 0.406])[None, :, None, None]
    std = torch.tensor([0.229, 0.224, 0.225])[None, :, None, None]
    tgts = inp["tgts"].clone()
    tgts[1] = ((0 - mean) / std)[0]  # sample 1: an all-black target, as for an image without any labels
    mask = inp["bool_masked_pos"]
    with torch.no_grad():
        both, _, _ = model(inp["imgs"], tgts, mask, inp["valid"].clone())
        first, _, _ = model(inp["imgs"][:1], tgts[:1], mask[:1], inp["valid"][:1].clone())
    torch.testing.assert_close(both, first)


def test_seggpt_checkpoint_is_refused(v5):
    sd, _, _ = v5
    sd = dict(sd, type_token_cls=torch.zeros(1, 1, 1, 32), type_token_ins=torch.zeros(1, 1, 1, 32))
    model = vision.create_model("painter_vit_test_patch16_input128x64")
    with pytest.raises(ValueError, match="SegGPT checkpoint"):
        load_checkpoint(model, sd)


def test_predict_paints_the_masked_query_half(v5):
    sd, inp, out = v5
    model = vision.create_model("painter_vit_test_patch16_input128x64").eval()
    load_checkpoint(model, sd)
    imgs, tgts = inp["imgs"], inp["tgts"]
    query = model.predict(imgs, tgts)
    assert query.shape == (2, 3, 64, 64)
    # the fixture's mask is the query half: its full prediction's bottom half is what predict returns
    full = model.unpatchify(out["pred_patchified"])
    torch.testing.assert_close(query, full[:, :, 64:], rtol=1e-5, atol=1e-5)
