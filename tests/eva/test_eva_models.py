"""MIM student, teacher and loss: official fixture V3, registered variants, freezing, gradients and bad input."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn as nn

import vision
from eva.models import EvaMIM, MIMPretrainer, MIMTeacher, mim_loss
from vision.data.masking import BlockMaskGenerator

V3 = "V3_eva02_mim_bflags_reduced_224.safetensors"


def _load_fixture(path):
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        manifest = json.loads(f.metadata()["manifest"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    sd = {k: tensors["state_dict." + k] for k in manifest["state_dict_keys_in_order"]}
    return manifest, sd, tensors


def _v3_student() -> EvaMIM:
    # The fixture's constructor arguments in our names (B-style flags, reduced width/depth).
    return EvaMIM(
        img_size=224,
        patch_size=14,
        embed_dim=128,
        depth=2,
        num_heads=2,
        mlp_ratio=8 / 3,
        mlp_layer="swiglu",
        scale_mlp=True,
        use_rope=True,
        predict_feature_dim=64,
        stop_grad_conv1=True,
    ).eval()


def _tiny_tower(img_size: int = 112, num_classes: int = 16) -> vision.VisionTransformer:
    # A CLIP-like EVA-02 tower: class-token pooling and a projection head.
    return vision.VisionTransformer(
        img_size=img_size,
        patch_size=14,
        embed_dim=32,
        depth=2,
        num_heads=2,
        mlp_layer="swiglu",
        mlp_ratio=8 / 3,
        use_rope=True,
        num_classes=num_classes,
        global_pool="token",
    )


def _tiny_teacher(**kwargs) -> MIMTeacher:
    return MIMTeacher(_tiny_tower(), **kwargs)


def test_fixture_v3_loads_strictly_and_reproduces_outputs(fixtures_dir):
    manifest, sd, t = _load_fixture(fixtures_dir / V3)
    model = _v3_student()
    report = vision.load_checkpoint(model, {"module": sd})  # the official DeepSpeed container
    assert report.ok and not report.missing and not report.unexpected
    image, mask = t["input.image"], t["input.bool_masked_pos"]
    with torch.no_grad():
        pred = model(image, mask)
        feats = model.forward_features(image, mask)
    torch.testing.assert_close(pred, t["output.lm_head_masked"], rtol=1e-5, atol=2e-5)
    torch.testing.assert_close(feats, t["output.features_all_tokens"], rtol=1e-5, atol=2e-5)


def test_registered_variants_have_the_paper_sizes():
    names = vision.list_models("eva*_mim_*")
    for name in ("tiny", "small", "base", "large"):
        assert f"eva02_mim_{name}_patch14_224" in names
    assert {"eva_mim_giant_patch14_224", "eva02_mim_test_patch14_112", "eva_mim_test_patch14_112"} <= set(names)

    def full_size(name: str, depth: int) -> tuple[int, EvaMIM]:
        # Count with 1 and 2 blocks and extrapolate: building L or g in full would take gigabytes.
        one, two = (vision.create_model(name, depth=d) for d in (1, 2))
        n1, n2 = (sum(p.numel() for n, p in m.named_parameters() if not n.startswith("lm_head")) for m in (one, two))
        return n1 + (depth - 1) * (n2 - n1), two

    for name, depth, millions in (("tiny", 12, 5.5), ("small", 12, 21.6), ("base", 12, 86), ("large", 24, 304)):
        count, model = full_size(f"eva02_mim_{name}_patch14_224", depth)
        assert abs(count / 1e6 - millions) / millions < 0.03, (name, count)
        assert model.lm_head.out_features == 1024 and model.mask_token.shape == (1, 1, model.embed_dim)
    count, giant = full_size("eva_mim_giant_patch14_224", 40)
    assert 0.95e9 < count < 1.05e9 and giant.lm_head.out_features == 768


def test_predictions_follow_the_mask_order():
    model = vision.create_model("eva02_mim_test_patch14_112").eval()
    images = torch.randn(2, 3, 112, 112)
    mask = BlockMaskGenerator(8, 26, min_num_patches=4, seed=0).batch(2)
    with torch.no_grad():
        pred = model(images, mask)
        tokens = model.forward_features(images, mask)[:, 1:]
    assert pred.shape == (int(mask.sum()), 16)
    torch.testing.assert_close(pred, model.lm_head(tokens[mask]))
    # Masked patches see the mask token, not the pixels: changing masked pixels changes nothing.
    other = images.clone()
    patch = int(mask[0].nonzero()[0])
    r, c = divmod(patch, 8)
    other[0, :, r * 14 : (r + 1) * 14, c * 14 : (c + 1) * 14] = 5.0
    with torch.no_grad():
        torch.testing.assert_close(model(other, mask), pred)


def test_stop_grad_conv1_scales_the_patch_kernel_gradient_by_a_tenth():
    torch.manual_seed(0)
    plain = vision.create_model("eva02_mim_test_patch14_112", stop_grad_conv1=False)
    damped = vision.create_model("eva02_mim_test_patch14_112", stop_grad_conv1=True)
    damped.load_state_dict(plain.state_dict())
    images, mask = torch.randn(2, 3, 112, 112), BlockMaskGenerator(8, 26, min_num_patches=4, seed=1).batch(2)
    for model in (plain, damped):
        model(images, mask).square().sum().backward()
    torch.testing.assert_close(damped.patch_embed.proj.weight.grad, 0.1 * plain.patch_embed.proj.weight.grad)
    torch.testing.assert_close(damped.blocks[0].norm1.weight.grad, plain.blocks[0].norm1.weight.grad)


def test_loss_is_negative_cosine_of_normalised_features():
    a = torch.randn(7, 16)
    assert mim_loss(a, 3.0 * a).item() == pytest.approx(-1.0, abs=1e-6)
    assert mim_loss(a, -a).item() == pytest.approx(1.0, abs=1e-6)
    b = torch.randn(7, 16)
    expected = -nn.functional.cosine_similarity(a, b, dim=-1).mean()
    torch.testing.assert_close(mim_loss(a.bfloat16(), b), expected, atol=2e-2, rtol=0)
    assert mim_loss(a.bfloat16(), b).dtype == torch.float32
    with pytest.raises(ValueError, match=r"prediction \(7, 16\) and teacher target \(7, 8\)"):
        mim_loss(a, torch.randn(7, 8))


def test_teacher_is_frozen_and_stays_in_eval():
    teacher = _tiny_teacher()
    assert not any(p.requires_grad for p in teacher.parameters())
    teacher.train()
    assert not teacher.tower.training
    x = torch.randn(2, 3, 112, 112, requires_grad=True)
    feats = teacher(x)
    assert feats.shape == (2, 64, 16) and not feats.requires_grad
    # Targets are the projected final-norm patch tokens.
    tower = teacher.tower
    torch.testing.assert_close(feats, tower.head(tower.forward_features(x)[:, 1:]).detach())


def test_bf16_teacher_stores_weights_in_bf16_and_tracks_fp32():
    torch.manual_seed(0)
    fp32 = _tiny_teacher()
    bf16 = _tiny_teacher(precision="bf16")
    bf16.tower.load_state_dict({k: v.bfloat16() for k, v in fp32.tower.state_dict().items()})
    assert all(p.dtype == torch.bfloat16 for p in bf16.parameters())
    x = torch.randn(2, 3, 112, 112)
    cos = nn.functional.cosine_similarity(bf16(x).float(), fp32(x), dim=-1)
    assert cos.min() > 0.99


def test_teacher_accepts_a_clip_model_through_its_visual_tower():
    class Clip(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.visual = _tiny_tower(num_classes=8)

    teacher = MIMTeacher(Clip())
    assert teacher.feature_dim == 8 and teacher(torch.randn(1, 3, 112, 112)).shape == (1, 64, 8)
    unprojected = MIMTeacher(Clip().visual, project=False)
    assert unprojected.feature_dim == 32
    with pytest.raises(TypeError, match="not a ViT tower"):
        MIMTeacher(nn.Linear(2, 2))


def test_pretrainer_holds_only_the_student_and_trains_it():
    torch.manual_seed(0)
    student = vision.create_model("eva02_mim_test_patch14_112")
    model = MIMPretrainer(student, _tiny_teacher())
    assert all(k.startswith("student.") for k in model.state_dict())
    assert {id(p) for p in model.parameters()} == {id(p) for p in student.parameters()}
    images = torch.randn(4, 3, 112, 112)
    mask = BlockMaskGenerator(8, 26, min_num_patches=4, seed=0).batch(4)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, betas=(0.9, 0.98))
    losses = []
    for _ in range(8):
        loss = model(images, mask)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert -1.0 <= min(losses) and losses[-1] < losses[0] - 0.05
    model.to(torch.float64)
    assert model.teacher.tower.cls_token.dtype == torch.float64  # .to() reaches the hidden teacher


def test_bad_inputs_name_the_sizes():
    student = vision.create_model("eva02_mim_test_patch14_112")
    small_teacher = MIMTeacher("eva02_test_patch14_56", num_classes=16, global_pool="token")  # by registered name
    with pytest.raises(ValueError, match=r"teacher patch grid 4x4 \(image 56, patch 14\).*student's 8x8 \(image 112"):
        MIMPretrainer(student, small_teacher)
    wide_teacher = MIMTeacher(_tiny_tower(num_classes=24))
    with pytest.raises(ValueError, match="predicts 16-d features but the teacher gives 24-d"):
        MIMPretrainer(student, wide_teacher)
    with pytest.raises(ValueError, match=r"mask has shape \(2, 49\).*2 samples of 64 patches"):
        student(torch.randn(2, 3, 112, 112), torch.zeros(2, 49, dtype=torch.bool))
    with pytest.raises(ValueError, match="teacher precision must be one of"):
        _tiny_teacher(precision="fp8")
    with pytest.raises(ValueError, match="global_pool is fixed for the MIM student"):
        EvaMIM(global_pool="avg")
