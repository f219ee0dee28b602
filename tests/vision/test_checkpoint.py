import os

import pytest
import torch

import vision
from vision.checkpoint import (
    CheckpointMismatchError,
    load_checkpoint,
    load_state_dict,
    save_state_dict,
    unwrap_state_dict,
)


@pytest.fixture
def model():
    torch.manual_seed(0)
    return vision.create_model("eva02_test_patch14_56", num_classes=4)


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".bin", ".safetensors"])
def test_every_file_format_loads(tmp_path, model, suffix):
    path = tmp_path / f"w{suffix}"
    sd = model.state_dict()
    save_state_dict(sd, path) if suffix == ".safetensors" else torch.save({"model": sd}, path)
    fresh = vision.create_model("eva02_test_patch14_56", num_classes=4)
    assert load_checkpoint(fresh, path).ok
    for key, value in sd.items():
        assert torch.equal(fresh.state_dict()[key], value)


def test_unwrap_prefers_ema_unless_told_otherwise(model):
    sd = model.state_dict()
    ema = {k: v + 1 for k, v in sd.items()}
    ckpt = {"model": sd, "model_ema": ema, "optimizer": {"state": {}}, "epoch": 3}
    assert torch.equal(unwrap_state_dict(ckpt)["head.bias"], ema["head.bias"])
    assert torch.equal(unwrap_state_dict(ckpt, prefer_ema=False)["head.bias"], sd["head.bias"])
    assert torch.equal(unwrap_state_dict({"module": sd})["head.bias"], sd["head.bias"])


@pytest.mark.parametrize("prefix", ["module.", "visual.", "visual.trunk."])
def test_prefixes_are_stripped(model, prefix):
    wrapped = {prefix + k: v for k, v in model.state_dict().items()}
    if prefix.startswith("visual"):
        wrapped["text.token_embedding.weight"] = torch.zeros(3, 3)  # the other tower is ignored
    assert load_checkpoint(vision.create_model("eva02_test_patch14_56", num_classes=4), wrapped).ok


def test_rope_buffers_mask_token_and_lm_head_are_dropped(model):
    sd = dict(model.state_dict())
    sd.update({"rope.freqs_cos": torch.zeros(16, 16), "blocks.0.attn.rope.freqs_sin": torch.zeros(16, 16)})
    sd.update(
        {"mask_token": torch.zeros(1, 1, 32), "lm_head.weight": torch.zeros(8, 32), "lm_head.bias": torch.zeros(8)}
    )
    assert load_checkpoint(model, sd).ok


def test_strict_mismatch_names_keys_and_shapes(model):
    sd = dict(model.state_dict())
    sd["head.weight"] = torch.zeros(7, 32)
    sd["blocks.0.attn.qkv_weight"] = sd.pop("blocks.0.attn.qkv.weight")
    with pytest.raises(CheckpointMismatchError) as err:
        load_checkpoint(model, sd)
    msg = str(err.value)
    assert "shape mismatch for head.weight: checkpoint [7, 32] vs model [4, 32]" in msg
    assert "blocks.0.attn.qkv.weight" in msg and "blocks.0.attn.qkv_weight" in msg
    assert "looks like model key 'blocks.0.attn.qkv.weight'" in msg
    report = load_checkpoint(model, sd, strict=False)
    assert report.missing == ["blocks.0.attn.qkv.weight"] and report.mismatched[0][0] == "head.weight"


def test_wrong_model_checkpoint_is_refused(model):
    eva01 = vision.create_model("eva_test_patch14_56", num_classes=4)
    with pytest.raises(CheckpointMismatchError, match="missing from the checkpoint"):
        load_checkpoint(model, eva01.state_dict())


def test_truncated_and_missing_files(tmp_path, model):
    good = tmp_path / "w.safetensors"
    save_state_dict(model.state_dict(), good)
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(good.read_bytes()[: os.path.getsize(good) // 2])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        load_state_dict(cut)
    pt = tmp_path / "w.pt"
    torch.save(model.state_dict(), pt)
    cut_pt = tmp_path / "cut.pt"
    cut_pt.write_bytes(pt.read_bytes()[:1000])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        load_state_dict(cut_pt)
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        load_state_dict(tmp_path / "nope.pt")


class _Payload:
    pass


def test_pickled_objects_need_an_explicit_opt_in(tmp_path, model):
    path = tmp_path / "pickled.pt"
    torch.save({"model": model.state_dict(), "args": _Payload()}, path)
    with pytest.raises(ValueError, match="weights_only=False"):
        load_state_dict(path)
    assert "head.weight" in load_state_dict(path, weights_only=False)


def test_atomic_save_leaves_nothing_behind_on_failure(tmp_path, model):
    target = tmp_path / "out.safetensors"
    save_state_dict(model.state_dict(), target)
    before = target.read_bytes()
    with pytest.raises(AttributeError):
        save_state_dict({"bad": "not a tensor"}, target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["out.safetensors"]


def test_patch_kernel_and_position_embedding_are_resampled():
    """A patch-14 checkpoint loads into a patch-16 model; the kernel is resampled, not cropped."""
    torch.manual_seed(0)
    p14 = vision.create_model("eva_test_patch14_56", num_classes=0)
    p16 = vision.create_model("eva_test_patch14_56", patch_size=16, img_size=64, num_classes=0)
    assert load_checkpoint(p16, p14.state_dict()).ok
    # the resampled kernel responds to a resized patch as the old one did to the original
    patch = torch.randn(3, 14, 14)
    big = torch.nn.functional.interpolate(patch[None], size=(16, 16), mode="bicubic", antialias=True)[0]
    old = (p14.patch_embed.proj.weight * patch).sum((1, 2, 3))
    new = (p16.patch_embed.proj.weight * big).sum((1, 2, 3))
    torch.testing.assert_close(new, old, rtol=1e-3, atol=1e-4)
