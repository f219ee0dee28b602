import pytest
import torch

import vision
from vision.checkpoint import save_state_dict
from vision.pretrained import PretrainedCfg, sha256sum
from vision.registry import register_model, register_pretrained


def test_unknown_model_suggests_close_names():
    with pytest.raises(KeyError, match="did you mean eva02_base_patch14_224"):
        vision.create_model("eva02_bse_patch14_224")


def test_list_models_by_pattern():
    names = vision.list_models("eva02_*_patch14_448")
    assert names == ["eva02_base_patch14_448", "eva02_large_patch14_448"]
    assert "eva02_base_patch14_448.mim_in22k_ft_in22k_in1k" in vision.list_pretrained("eva02_base*")


def test_overrides_use_timm_names():
    model = vision.create_model("eva02_test_patch14_56", num_classes=3, drop_path_rate=0.1, global_pool="token")
    assert model.head.out_features == 3 and model.global_pool == "token"
    assert model.blocks[1].drop_path.drop_prob == pytest.approx(0.1)


def test_pretrained_offline_fails_fast_with_advice(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("SHIJIE_WEIGHTS", raising=False)
    with pytest.raises(RuntimeError, match="pass the local file"):
        vision.create_model("eva02_tiny_patch14_224.mim_in22k", pretrained=True, num_classes=0)


def test_pretrained_from_local_path_and_weights_folder(tmp_path, monkeypatch):
    torch.manual_seed(0)
    src = vision.create_model("eva02_test_patch14_56")
    path = tmp_path / "w.safetensors"
    save_state_dict(src.state_dict(), path)
    loaded = vision.create_model("eva02_test_patch14_56", pretrained=str(path))
    assert torch.equal(loaded.head.weight, src.head.weight)

    @register_model
    def _test_registry_arch(**kw):
        return vision.create_model("eva02_test_patch14_56", **kw)

    path.rename(tmp_path / "_test_registry_arch.local.safetensors")
    path = tmp_path / "_test_registry_arch.local.safetensors"
    cfg = PretrainedCfg(file=str(tmp_path / "elsewhere.safetensors"), hf_hub_id="x/y", sha256=sha256sum(path))
    register_pretrained("_test_registry_arch.local", cfg)
    monkeypatch.setenv("SHIJIE_WEIGHTS", str(tmp_path))
    model = vision.create_model("_test_registry_arch", pretrained=True)
    assert torch.equal(model.head.weight, src.head.weight)

    register_pretrained("_test_registry_arch.corrupt", PretrainedCfg(file=str(path), sha256="0" * 64))
    with pytest.raises(ValueError, match="corrupt or wrong file"):
        vision.create_model("_test_registry_arch.corrupt", pretrained=True)


def test_registering_a_name_twice_is_an_error():
    def eva02_tiny_patch14_224():
        pass

    with pytest.raises(ValueError, match="registered twice"):
        register_model(eva02_tiny_patch14_224)


def test_import_vision_stays_light():
    import subprocess
    import sys

    heavy = ("gradio", "diffusers", "transformers", "open_clip", "mmengine", "vision.engine")
    code = f"import sys, vision; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
