import math

import torch

from vision.layers import RotaryEmbedding2d, apply_rope


def _official_style(head_dim, ft, pt):
    """The official recipe written independently: per-axis angles, interleaved pairs, complex rotation."""
    dim = head_dim // 2
    inv = [1.0 / (10000 ** (2 * i / dim)) for i in range(dim // 2)]
    rows = []
    for i in range(ft[0]):
        for j in range(ft[1]):
            angles = [i / ft[0] * pt[0] * f for f in inv] + [j / ft[1] * pt[1] * f for f in inv]
            rows.append([a for a in angles for _ in range(2)])
    return torch.tensor(rows, dtype=torch.float64)


def test_tables_match_the_official_formula_including_stretched_positions():
    # 14x14 tokens on a 16x16 pre-training grid (EVA02-CLIP-B/16 at 224) and a non-square grid.
    for grid, ref in (((14, 14), (16, 16)), ((16, 16), (16, 16)), ((6, 10), (16, 16))):
        rope = RotaryEmbedding2d(64, grid=grid, ref_grid=ref)
        angles = _official_style(64, grid, ref)
        torch.testing.assert_close(rope.cos[1:].double(), angles.cos(), rtol=0, atol=1e-6)
        torch.testing.assert_close(rope.sin[1:].double(), angles.sin(), rtol=0, atol=1e-6)


def test_prefix_tokens_are_not_rotated_and_patches_are():
    rope = RotaryEmbedding2d(32, grid=(4, 4), ref_grid=(16, 16), num_prefix_tokens=1)
    x = torch.randn(2, 3, 17, 32)
    y = apply_rope(x, rope.cos, rope.sin)
    assert torch.equal(y[:, :, 0], x[:, :, 0])
    assert not torch.allclose(y[:, :, 5], x[:, :, 5])
    torch.testing.assert_close(y.norm(dim=-1), x.norm(dim=-1))  # a rotation keeps lengths


def test_rotation_is_relative():
    """q.k after RoPE depends on the offset between positions only (the reason RoPE exists)."""
    rope = RotaryEmbedding2d(8, grid=(1, 8), ref_grid=(1, 8), num_prefix_tokens=0)
    q, k = torch.randn(8), torch.randn(8)
    qs = apply_rope(q.expand(8, 8), rope.cos, rope.sin)
    ks = apply_rope(k.expand(8, 8), rope.cos, rope.sin)
    assert math.isclose((qs[1] @ ks[3]).item(), (qs[4] @ ks[6]).item(), rel_tol=1e-4)


def test_buffers_are_recomputed_never_saved_and_other_grids_on_demand():
    rope = RotaryEmbedding2d(32, grid=(4, 4))
    assert rope.state_dict() == {}
    cos, sin = rope((6, 2))
    assert cos.shape == sin.shape == (1 + 12, 32)


def _rotate_half(x):
    """The official form: (x0, x1, x2, x3, ...) -> (-x1, x0, -x3, x2, ...)."""
    x1, x2 = x.unflatten(-1, (-1, 2)).unbind(-1)
    return torch.stack((-x2, x1), dim=-1).flatten(-2)


def test_complex_rotation_equals_the_official_rotate_half_form():
    rope = RotaryEmbedding2d(64, grid=(5, 7), ref_grid=(16, 16))
    x = torch.randn(2, 4, 36, 64, dtype=torch.float64).float()
    torch.testing.assert_close(apply_rope(x, rope.cos, rope.sin), x * rope.cos + _rotate_half(x) * rope.sin)
    # strided input (a slice of a fused qkv tensor), and gradients
    qkv = torch.randn(3, 2, 4, 36, 64, requires_grad=True)
    apply_rope(qkv[:2], rope.cos, rope.sin).square().sum().backward()
    assert qkv.grad[:2].abs().sum() > 0 and qkv.grad[2].abs().sum() == 0


def test_rotation_of_a_fused_qkv_view_has_the_official_gradients():
    rope = RotaryEmbedding2d(16, grid=(3, 3), ref_grid=(16, 16))
    qkv = torch.randn(2, 10, 3, 4, 16, requires_grad=True)  # (B, N, 3, H, D), as the fused projection gives
    q = qkv.unbind(2)[0].transpose(1, 2)  # (B, H, N, D) view, token-major in memory
    ours = apply_rope(q, rope.cos, rope.sin)
    weights = torch.randn_like(ours)
    (grad,) = torch.autograd.grad((ours * weights).sum(), qkv)
    official = q * rope.cos + _rotate_half(q) * rope.sin
    (official_grad,) = torch.autograd.grad((official * weights).sum(), qkv)
    torch.testing.assert_close(ours, official)
    torch.testing.assert_close(grad, official_grad)


def test_rotation_broadcasts_per_sample_tables_over_shared_heads():
    """Per-sample tables (patch dropout) against one (1, H, N, D) input: the gradient sums over the samples."""
    rope = RotaryEmbedding2d(8, grid=(2, 2), ref_grid=(16, 16))
    cos, sin = rope.cos.expand(3, 1, -1, -1), rope.sin.expand(3, 1, -1, -1)  # (B, 1, N, D)
    x = torch.randn(1, 2, 5, 8, requires_grad=True)
    y = apply_rope(x, cos, sin)
    assert y.shape == (3, 2, 5, 8)
    (grad,) = torch.autograd.grad(y.sum(), x)
    (official_grad,) = torch.autograd.grad((x * cos + _rotate_half(x) * sin).sum(), x)
    torch.testing.assert_close(grad, official_grad)


def test_compiled_rotation_is_real_valued_and_equals_eager():
    """Under torch.compile the real form runs (inductor has no complex codegen); it must agree with eager."""
    graphs = []

    def capture(gm: torch.fx.GraphModule, example_inputs: list) -> torch.fx.GraphModule:
        graphs.append(gm)
        return gm

    rope = RotaryEmbedding2d(16, grid=(3, 3), ref_grid=(16, 16))
    x = torch.randn(2, 4, 10, 16)
    compiled = torch.compile(apply_rope, backend=capture, fullgraph=True)
    torch.testing.assert_close(compiled(x, rope.cos, rope.sin), apply_rope(x, rope.cos, rope.sin))
    targets = {str(node.target) for gm in graphs for node in gm.graph.nodes}
    assert graphs and not any("complex" in target for target in targets), targets
