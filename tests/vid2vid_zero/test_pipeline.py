"""The whole pipeline on the shared clips: loading, editing, outputs, cache, config, CLI, and early input errors."""

from __future__ import annotations

import importlib.util
import shutil
from dataclasses import replace
from pathlib import Path

import av
import pytest
import torch

from vid2vid_zero.config import EditConfig, load_edit_config
from vid2vid_zero.pipeline import Vid2VidZeroPipeline
from vid2vid_zero.prompt_to_prompt import AttentionController
from vid2vid_zero.runner import edit_clip

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "vid2vid_zero"


@pytest.fixture
def small_cfg(tiny_model_dir, clips_dir, tmp_path) -> EditConfig:
    return EditConfig(
        model_path=str(tiny_model_dir),
        video_path=str(clips_dir / "jeep-moving.mp4"),
        source_prompt="a jeep car is moving on the road",
        prompts=["a jeep car is moving on the snow", "a Porsche car is moving on the desert"],
        output_dir=str(tmp_path / "out"),
        num_frames=3,
        height=64,
        width=64,
        num_steps=3,
        null_inner_steps=2,
    )


@pytest.fixture
def unet_calls(pipe):
    """Records the batch size (groups x frames) of every UNet forward pass during a test."""
    calls = []
    handle = pipe.unet.register_forward_pre_hook(lambda _, args: calls.append(args[0].shape[0]))
    yield calls
    handle.remove()


def _frames_in(path: Path) -> tuple[int, int, int]:
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
    return len(frames), frames[0].height, frames[0].width


def test_loads_diffusers_folder_and_rejects_missing_components(tiny_model_dir, tmp_path):
    pipe = Vid2VidZeroPipeline.from_pretrained(tiny_model_dir, device="cpu", dtype="float32")
    assert pipe.unet.dtype == torch.float32 and pipe.context_length == 77
    assert {type(p).__name__ for p in pipe.unet.attn_processors.values()} == {"Vid2VidAttnProcessor"}
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, broken)
    shutil.rmtree(broken / "vae")
    with pytest.raises(FileNotFoundError, match="missing component files: vae/config.json"):
        Vid2VidZeroPipeline.from_pretrained(broken)
    with pytest.raises(ValueError, match="dtype must be one of"):
        Vid2VidZeroPipeline.from_pretrained(tiny_model_dir, dtype="int8")
    with pytest.raises(ValueError, match="needs config=FOLDER"):
        Vid2VidZeroPipeline.from_pretrained(tiny_model_dir / "unet" / "diffusion_pytorch_model.safetensors")


def test_loads_one_original_layout_safetensors_file(tiny_model_dir, tmp_path):
    """A single Stable Diffusion checkpoint (CompVis layout) plus a local config folder gives the folder's weights."""
    from safetensors.torch import save_file

    from tests.vid2vid_zero.ldm_layout import ldm_checkpoint

    folder = Vid2VidZeroPipeline.from_pretrained(tiny_model_dir)
    path = tmp_path / "sd-v1.safetensors"
    save_file(ldm_checkpoint(folder.unet, folder.vae, folder.text_encoder), path)
    single = Vid2VidZeroPipeline.from_pretrained(path, config=str(tiny_model_dir))
    for name in ("unet", "vae", "text_encoder"):
        expected, loaded = getattr(folder, name).state_dict(), getattr(single, name).state_dict()
        assert expected.keys() == loaded.keys(), name
        assert all(torch.equal(expected[k], loaded[k]) for k in expected), name
    assert {type(p).__name__ for p in single.unet.attn_processors.values()} == {"Vid2VidAttnProcessor"}
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        Vid2VidZeroPipeline.from_pretrained(tmp_path / "absent.safetensors", config=str(tiny_model_dir))


def test_edits_shared_clip_and_writes_playable_videos(pipe, small_cfg, tmp_path):
    result = edit_clip(replace(small_cfg, cache_dir=str(tmp_path / "cache")), pipe)
    assert set(result.edits) == set(small_cfg.prompts)
    for video in result.edits.values():
        assert video.shape == (3, 3, 64, 64) and torch.isfinite(video).all()
    names = {p.name for p in result.files}
    assert {"grid.mp4", "grid.gif", "a_jeep_car_is_moving_on_the_snow.mp4"} <= names
    out = Path(small_cfg.output_dir)
    assert _frames_in(out / "a_jeep_car_is_moving_on_the_snow.mp4") == (3, 64, 64)
    assert _frames_in(out / "grid.mp4") == (3, 64, 64 * 3)  # source + two edits side by side
    assert not result.cached

    # a second edit of the same clip with a new prompt reuses the inversion and matches a fresh run
    again = edit_clip(replace(small_cfg, prompts=small_cfg.prompts[:1], cache_dir=str(tmp_path / "cache")), pipe)
    assert again.cached and again.seconds["inversion"] < result.seconds["inversion"]
    torch.testing.assert_close(again.edits[small_cfg.prompts[0]], result.edits[small_cfg.prompts[0]])


def test_edits_sharing_a_source_pass_equal_the_full_four_branch_edit(pipe, unet_calls):
    """The target never depends on the source's unconditional branch, nor on the source at all once the controller
    stops: skipping those branches (and reusing known source latents) leaves the edit unchanged."""
    torch.manual_seed(0)
    source, steps, frames = "a jeep car is moving on the road", 5, 3
    inversion = pipe.invert(torch.randn(frames, 4, 8, 8), source, num_steps=steps)
    source_pass = pipe.new_source_pass(inversion, source, steps)
    for target in ("a jeep car is moving on the snow", "a red jeep car is moving on the road"):
        controller = AttentionController(pipe.tokenizer, source, target, steps)
        full = pipe.denoise(inversion.noise, [source, target], inversion.null_embeddings, steps, controller=controller)
        unet_calls.clear()
        edit = pipe.edit(inversion, source, target, steps, source_pass=source_pass)
        torch.testing.assert_close(edit, pipe.decode_latents(full[1]), rtol=0, atol=1e-6)
        samples = sum(unet_calls)
        # controller acts in steps 0-3 (cross 0.8 of 5): the first edit runs the source's uncond branch in steps
        # 0-2 to learn its latents, the second reads them; step 4 runs the target alone
        expected = (3 * 4 + 3 + 2) if target.endswith("snow") else (4 * 3 + 2)
        assert samples == expected * frames, (target, unet_calls)
    assert len(source_pass.latents) == 4  # z_T and the source latents entering steps 1-3
    with pytest.raises(ValueError, match="source pass made with"):
        pipe.edit(inversion, source, "a car", 4, source_pass=source_pass)
    other = pipe.invert(torch.randn(frames, 4, 8, 8), source, num_steps=steps)
    with pytest.raises(ValueError, match="another inversion's noise"):
        pipe.edit(other, source, "a car", steps, source_pass=source_pass)


def test_second_edit_from_the_cache_skips_the_known_source_branch(pipe, small_cfg, unet_calls, tmp_path):
    cfg = replace(small_cfg, prompts=small_cfg.prompts[:1], cache_dir=str(tmp_path / "cache"), num_steps=5)
    first = edit_clip(cfg, pipe, write=False)
    assert len(list(Path(cfg.cache_dir).glob("*.source-*.safetensors"))) == 1
    unet_calls.clear()
    second = edit_clip(replace(cfg, prompts=small_cfg.prompts[1:]), pipe, write=False)
    assert second.cached and sum(unet_calls) == (4 * 3 + 2) * cfg.num_frames  # 3 branches while controlled, then 2
    fresh = edit_clip(replace(cfg, prompts=small_cfg.prompts[1:], cache_dir=None), pipe, write=False)
    torch.testing.assert_close(second.edits[small_cfg.prompts[1]], fresh.edits[small_cfg.prompts[1]])
    assert not first.cached


def test_cache_key_changes_with_inversion_settings(pipe, small_cfg, tmp_path):
    cache = str(tmp_path / "cache")
    edit_clip(replace(small_cfg, prompts=small_cfg.prompts[:1], cache_dir=cache, num_steps=2), pipe, write=False)
    other = edit_clip(
        replace(small_cfg, prompts=small_cfg.prompts[:1], cache_dir=cache, num_steps=2, stride=2), pipe, write=False
    )
    assert not other.cached and len(list(Path(cache).glob("*.safetensors"))) == 2


def test_bad_inputs_fail_before_any_diffusion_step(pipe, small_cfg, unet_calls, tmp_path, clips_dir):
    text = tmp_path / "clip.mp4"
    text.write_text("hello")
    cases = {
        "not a readable video": replace(small_cfg, video_path=str(text)),
        "has 8 frames, too few for 9 frames": replace(small_cfg, num_frames=9),
        "longer than the 77-token context": replace(small_cfg, prompts=[" ".join(["car"] * 80)]),
        "divisible by 8 and by the VAE factor 8": replace(small_cfg, height=64, width=64),
    }
    cases["divisible by 8 and by the VAE factor 8"].width = 60  # bypass the config check to reach the pipeline's
    for message, cfg in cases.items():
        with pytest.raises(ValueError, match=message):
            edit_clip(cfg, pipe)
    assert not unet_calls
    with pytest.raises(ValueError, match="positive multiples of 8"):
        replace(small_cfg, height=100)
    with pytest.raises(FileNotFoundError, match="missing component files"):
        edit_clip(replace(small_cfg, model_path=str(tmp_path)))


def test_configs_load_and_unknown_keys_raise(tmp_path, clips_dir):
    for path in sorted(CONFIGS.glob("*")):
        cfg = load_edit_config(path)
        assert cfg.prompts and cfg.num_frames >= 8
        assert Path(cfg.video_path).is_file(), cfg.video_path
    assert load_edit_config(CONFIGS / "horse-running-24f.py").num_frames == 24
    bad = tmp_path / "bad.yaml"
    bad.write_text("video_path: x.mp4\nsource_prompt: a\nprompts: [b]\nmodel_path: m\nguidance: 3\n")
    with pytest.raises(ValueError, match=r"unknown keys .*\['guidance'\]"):
        load_edit_config(bad)


def test_edit_video_tool(tiny_model_dir, clips_dir, tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("edit_video", CONFIGS.parents[1] / "tools" / "edit_video.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    argv = [str(CONFIGS / "jeep-moving.yaml"), "--model-path", str(tiny_model_dir), "--output-dir", str(tmp_path)]
    argv += [
        "--cfg-options",
        "num_frames=2",
        "height=64",
        "width=64",
        "num_steps=2",
        "prompts=['a jeep car is moving on the snow']",
    ]
    assert tool.main(argv) == 0
    assert _frames_in(tmp_path / "grid.mp4") == (2, 64, 128)
    assert "inversion: computed" in capsys.readouterr().out


def test_twenty_four_frames_run(pipe, small_cfg, clips_dir):
    """The official code stops at 8 frames; 24 frames of horse-running (stride 3) edit here, dense layers chunked."""
    cfg = replace(
        small_cfg,
        video_path=str(clips_dir / "horse-running.mp4"),
        source_prompt="a horse is running on the beach",
        prompts=["a dog is running on the beach"],
        num_frames=24,
        stride=3,
        num_steps=2,
        null_inner_steps=1,
    )
    result = edit_clip(cfg, pipe, write=False)
    assert result.edits[cfg.prompts[0]].shape == (24, 3, 64, 64)


def test_bfloat16_edit_runs(tiny_model_dir):
    pipe = Vid2VidZeroPipeline.from_pretrained(tiny_model_dir, device="cpu", dtype="bfloat16")
    assert pipe.unet.dtype == torch.bfloat16
    latents = pipe.encode_video(torch.rand(2, 3, 64, 64))
    inversion = pipe.invert(latents, "a car", num_steps=2)
    assert latents.dtype == torch.bfloat16 and inversion.null_embeddings.dtype == torch.float32
    edit = pipe.edit(inversion, "a car", "a bus", num_steps=2)
    assert edit.shape == (2, 3, 64, 64) and torch.isfinite(edit).all()
