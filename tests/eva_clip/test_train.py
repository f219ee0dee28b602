"""Training pieces: loss falls on real images, FLIP patch dropout with RoPE, per-tower optimizer groups, tower init."""

from __future__ import annotations

import math

import pytest
import torch

from eva_clip.convert import export_state_dict
from eva_clip.data import ImageTextCsvDataset, clip_transform
from eva_clip.train import TowerOptimizer, build_train_model, init_towers
from vision.checkpoint import save_state_dict
from vision.engine.optim import param_groups

TINY = dict(
    img_size=32,
    patch_size=8,
    embed_dim=32,
    vision_cfg=dict(embed_dim=64, depth=2, num_heads=2, patch_drop_rate=0.25),
    text_cfg=dict(width=32, heads=2, layers=2),
)


def test_contrastive_loss_falls_on_real_images(data_dir):
    torch.manual_seed(0)
    dataset = ImageTextCsvDataset(
        data_dir / "imagenet" / "labels.csv",
        image_key="file",
        caption_key="clip_classname",
        caption_template="a photo of a {}.",
        transform=clip_transform(32),
    )
    images, texts = map(torch.stack, zip(*(dataset[i] for i in range(12))))
    model = build_train_model("eva02_clip_base_patch16_224", **TINY).train()
    opt = TowerOptimizer(param_groups(model, 0.05), lr=1e-3, visual=dict(layer_decay=0.9), text=dict(lr=1e-3))
    losses = []
    for _ in range(15):
        out = model(images, texts)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        losses.append(out["loss"].item())
    chance = math.log(len(images))  # the loss of features that cannot tell the pairs apart
    assert sum(losses[-3:]) / 3 < 0.75 * chance < sum(losses[:3]) / 3, losses


def test_patch_dropout_with_rope_only_in_training():
    torch.manual_seed(0)
    model = build_train_model("eva02_clip_base_patch16_224", **TINY)
    image = torch.randn(2, 3, 32, 32)
    seen = []
    hook = model.visual.blocks[0].register_forward_hook(lambda m, i, o: seen.append(o.shape[1]))
    model.train()(image, torch.zeros(2, 77, dtype=torch.long).index_fill_(1, torch.tensor([0]), 49407))
    model.eval().encode_image(image)
    hook.remove()
    assert seen == [1 + 12, 1 + 16]  # 4x4 patches: 75% kept in training (RoPE follows), all at evaluation


def test_tower_optimizer_sets_lr_weight_decay_and_layer_decay_per_tower():
    model = build_train_model("eva02_clip_base_patch16_224", **TINY)
    opt = TowerOptimizer(
        param_groups(model, 0.05),
        lr=1e-3,
        base="lamb",
        visual=dict(lr=2e-3, weight_decay=0.1, layer_decay=0.5),
        text=dict(lr=1e-4, layer_decay=1.0),
    )
    assert type(opt).__name__ == "Lamb"
    by_name = {n: g for g in opt.param_groups for n in g["param_names"]}
    assert by_name["visual.head.weight"]["lr"] == pytest.approx(2e-3)  # top layer: no decay
    assert by_name["visual.patch_embed.proj.weight"]["lr"] == pytest.approx(2e-3 * 0.5**3)  # depth 2 -> 3 steps
    assert by_name["visual.blocks.1.mlp.w3.weight"]["weight_decay"] == 0.1
    assert by_name["visual.blocks.1.norm1.weight"]["weight_decay"] == 0.0
    assert by_name["text.token_embedding.weight"]["lr"] == pytest.approx(1e-4)
    assert by_name["text.transformer.resblocks.0.mlp.c_fc.weight"]["weight_decay"] == 0.05
    assert by_name["logit_scale"]["lr"] == pytest.approx(1e-3)
    with pytest.raises(ValueError, match="unknown keys"):
        TowerOptimizer(param_groups(model, 0.05), lr=1e-3, text=dict(momentum=0.9))


def test_init_towers_from_separate_checkpoints(make_clip, tmp_path):
    source = make_clip(seed=3, img_size=32)
    full = export_state_dict(source)
    save_state_dict(
        {k.removeprefix("visual."): v for k, v in full.items() if k.startswith("visual.")}, tmp_path / "v.safetensors"
    )
    # an OpenAI-CLIP-style text checkpoint: the text tower at the top level
    save_state_dict(
        {k.removeprefix("text."): v for k, v in full.items() if k.startswith("text.")}, tmp_path / "t.safetensors"
    )
    model = build_train_model(
        "eva02_clip_base_patch16_224",
        **{**TINY, "patch_size": 16, "vision_cfg": dict(embed_dim=64, depth=2, num_heads=2)},
    )
    init_towers(model, tmp_path / "v.safetensors", tmp_path / "t.safetensors")
    ids = torch.tensor([[49406, 320, 2368, 49407]])
    with torch.no_grad():
        torch.testing.assert_close(model.eval().encode_text(ids), source.encode_text(ids))
        image = torch.randn(1, 3, 32, 32)
        torch.testing.assert_close(model.encode_image(image), source.encode_image(image))
    save_state_dict({"unrelated.weight": torch.zeros(1)}, tmp_path / "x.safetensors")
    with pytest.raises(ValueError, match="no text-tower keys"):
        init_towers(model, text=tmp_path / "x.safetensors")


@pytest.mark.slow
def test_smoke_train_config_loss_falls(data_dir, tmp_path):
    """configs/eva_clip/smoke_train_cpu.py through the engine (about a minute on 2 cores)."""
    import json

    from vision.config import load_config
    from vision.engine import Trainer, teardown_distributed

    cfg = load_config(
        "configs/eva_clip/smoke_train_cpu.py", [f"train_dataloader.dataset.path={data_dir / 'imagenet' / 'labels.csv'}"]
    )
    try:
        Trainer(cfg, work_dir=tmp_path).fit()
    finally:
        teardown_distributed()
    losses = [r["loss"] for r in map(json.loads, (tmp_path / "log.jsonl").read_text().splitlines()) if "loss" in r]
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5


def test_grad_checkpointing_gives_the_same_gradients_and_bf16_trains():
    torch.manual_seed(0)
    model = build_train_model(
        "eva02_clip_base_patch16_224", **{**TINY, "vision_cfg": dict(embed_dim=64, depth=2, num_heads=2)}
    )
    images = torch.randn(4, 3, 32, 32)
    texts = torch.zeros(4, 8, dtype=torch.long)
    texts[:, 0], texts[:, 1], texts[:, 2] = 49406, torch.arange(4) + 320, 49407

    def grads(checkpointing: bool) -> list[torch.Tensor]:
        model.set_grad_checkpointing(checkpointing)
        model.zero_grad()
        torch.manual_seed(1)  # the same patch-dropout draw
        model.train()(images, texts)["loss"].backward()
        return [p.grad.clone() for p in model.parameters()]

    for plain, ckpt in zip(grads(False), grads(True)):
        torch.testing.assert_close(ckpt, plain)
    model.set_grad_checkpointing(False)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = model(images, texts)["loss"]
    loss.backward()
    assert torch.isfinite(loss) and all(torch.isfinite(p.grad).all() for p in model.parameters())
