"""The in-context ViT core: relative-position bias, canvas rules, decoder shortcut, masks and resizing."""

from __future__ import annotations

import pytest
import torch

from vision.incontext import InContextViT, adapt_state_dict, canvas_grid
from vision.layers import attention_backend
from vision.layers.rel_pos import decomposed_rel_pos_bias, rel_pos_lookup, resize_rel_pos


def tiny(**kw) -> InContextViT:
    cfg = dict(img_size=(64, 32), embed_dim=32, depth=4, num_heads=2, merge_index=1, out_indices=(2, 3))
    cfg["decoder_embed_dim"] = 8
    torch.manual_seed(0)
    model = InContextViT(**{**cfg, **kw}).eval()
    with torch.no_grad():  # non-trivial rel-pos tables and biases (the official init leaves them at zero)
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model


def canvas(b: int = 2, h: int = 64, w: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, 3, h, w, generator=g), torch.randn(b, 3, h, w, generator=g)


def query_mask(hp: int, wp: int) -> torch.Tensor:
    mask = torch.zeros(1, hp * wp, dtype=torch.bool)
    mask[:, hp * wp // 2 :] = True
    return mask


def test_rel_pos_bias_matches_explicit_sum():
    g = torch.Generator().manual_seed(0)
    qh, qw, c = 3, 4, 5
    q = torch.randn(2, 2, qh * qw, c, generator=g)
    rh, rw = torch.randn(2 * qh - 1, c, generator=g), torch.randn(2 * qw - 1, c, generator=g)
    bias = decomposed_rel_pos_bias(q, rh, rw, (qh, qw), (qh, qw))
    assert bias.shape == (2, 2, qh * qw, qh * qw)
    for i, j, k, m in [(0, 0, 0, 0), (2, 3, 0, 1), (1, 0, 2, 3), (0, 3, 2, 0)]:
        expected = q[:, :, i * qw + j] @ (rh[i - k + qh - 1] + rw[j - m + qw - 1])
        torch.testing.assert_close(bias[:, :, i * qw + j, k * qw + m], expected)


def test_rel_pos_resize_keeps_linear_tables_linear():
    table = torch.arange(7.0)[:, None] * torch.tensor([[1.0, -2.0]])  # linear in the offset
    assert resize_rel_pos(table, 7) is table
    grown = resize_rel_pos(table, 13)
    assert grown.shape == (13, 2)
    inner = grown[2:-2, 0].diff()  # away from the clamped ends, steps are equal
    torch.testing.assert_close(inner, torch.full_like(inner, inner[0].item()))
    assert rel_pos_lookup(4, 4, torch.randn(3, 2)).shape == (4, 4, 2)  # resampled to 2*4-1 on the fly


def test_sdpa_and_math_backends_agree():
    model = tiny()
    imgs, tgts = canvas()
    mask = query_mask(4, 2)
    with torch.no_grad():
        fast = model.forward_encoder(imgs, tgts, mask)
        with attention_backend("math"):
            ref = model.forward_encoder(imgs, tgts, mask)
    for a, b in zip(fast, ref):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("size", [(64, 64), (48, 24), (60, 30), (0, 0)])
def test_canvas_must_be_2w_by_w_multiple_of_patch(size):
    with pytest.raises(ValueError, match=r"\(2W, W\)"):
        canvas_grid(*size, 16)
    model = tiny()
    if size[0]:
        imgs = torch.zeros(1, 3, *size)
        with pytest.raises(ValueError, match=r"\(2W, W\)"):
            model(imgs, imgs)


@pytest.mark.parametrize("size", [(32, 16), (128, 64)])
def test_any_canvas_size_runs_with_resampled_positions(size):
    model = tiny()
    imgs, tgts = canvas(1, *size)
    hp, wp = size[0] // 16, size[1] // 16
    with torch.no_grad():
        loss, pred, mask = model(imgs, tgts, query_mask(hp, wp))
    assert pred.shape == (1, hp * wp, 16 * 16 * 3) and torch.isfinite(loss)


def test_query_only_decoder_is_the_bottom_half_of_the_full_decode():
    model = tiny()
    imgs, tgts = canvas()
    with torch.no_grad():
        feats = model.forward_encoder(imgs, tgts, query_mask(4, 2))
        full = model.forward_decoder(feats)
        half = model.forward_decoder(feats, query_only=True)
    assert half.shape == (2, 3, 32, 32)
    torch.testing.assert_close(half, full[:, :, 32:], rtol=0, atol=1e-6)


def test_single_mask_row_broadcasts_over_the_batch():
    model = tiny()
    imgs, tgts = canvas(3)
    row = query_mask(4, 2)
    with torch.no_grad():
        a = model(imgs, tgts, row)
        b = model(imgs, tgts, row.expand(3, -1).reshape(3, 4, 2))  # (B, Hp, Wp) layout, same mask
    torch.testing.assert_close(a[0], b[0])
    torch.testing.assert_close(a[1], b[1])


def test_masked_target_content_is_invisible():
    model = tiny()
    imgs, tgts = canvas(1)
    other = tgts.clone()
    other[:, :, 32:] = torch.randn(1, 3, 32, 32)  # change only the masked (query) half of the target
    with torch.no_grad():
        a = model.forward_encoder(imgs, tgts, query_mask(4, 2))
        b = model.forward_encoder(imgs, other, query_mask(4, 2))
    torch.testing.assert_close(a[-1], b[-1])


def test_streams_are_stacked_until_the_merge_block():
    model = tiny()
    seen = {}
    for i, blk in enumerate(model.blocks):
        blk.register_forward_hook(lambda m, a, o, i=i: seen.__setitem__(i, tuple(o.shape)))
    imgs, tgts = canvas(2)
    with torch.no_grad():
        model.forward_encoder(imgs, tgts, query_mask(4, 2))
    assert seen == {0: (4, 4, 2, 32), 1: (4, 4, 2, 32), 2: (2, 4, 2, 32), 3: (2, 4, 2, 32)}


def test_bad_mask_shape_is_named():
    model = tiny()
    imgs, tgts = canvas(1)
    with pytest.raises(ValueError, match="bool_masked_pos"):
        model(imgs, tgts, torch.zeros(1, 5, dtype=torch.bool))


def test_loss_counts_only_masked_valid_pixels():
    model = tiny()
    imgs, tgts = canvas(1)
    mask = query_mask(4, 2)
    with torch.no_grad():
        loss, pred, _ = model(imgs, tgts, mask)
        pred_img = model.unpatchify(pred)
    diff = torch.nn.functional.smooth_l1_loss(pred_img, tgts, reduction="none", beta=0.01)
    torch.testing.assert_close(loss, diff[:, :, 32:].mean())


def test_grad_checkpointing_gives_the_same_gradients():
    imgs, tgts = canvas(1)
    grads = []
    for ckpt in (False, True):
        model = tiny().train()
        model.set_grad_checkpointing(ckpt)
        loss, _, _ = model(imgs, tgts, query_mask(4, 2))
        loss.backward()
        grads.append(model.blocks[0].attn.rel_pos_h.grad.clone())
    torch.testing.assert_close(grads[0], grads[1])


def test_layer_ids_for_lr_decay():
    model = tiny()
    assert model.layer_id("pos_embed") == 0 and model.layer_id("segment_token_x") == 0
    assert model.layer_id("patch_embed.proj.weight") == 0
    assert model.layer_id("blocks.2.attn.qkv.weight") == 3
    assert model.layer_id("decoder_embed.weight") == 5


def test_rel_pos_tables_adapt_to_a_model_built_for_another_canvas():
    small = tiny()
    big = tiny(img_size=(128, 64))
    adapted = adapt_state_dict({"module." + k: v for k, v in small.state_dict().items()}, big)
    assert adapted["blocks.0.attn.rel_pos_h"].shape == big.blocks[0].attn.rel_pos_h.shape == (15, 16)
    big.load_state_dict(adapted, strict=True)
