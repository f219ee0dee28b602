import pytest
import torch

from vision.layers import attention, attention_backend, get_attention_backend, set_attention_backend


def _qkv(seed=0, b=2, h=3, n=7, m=9, d=16):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(b, h, n, d, generator=g),
        torch.randn(b, h, m, d, generator=g),
        torch.randn(b, h, m, d, generator=g),
    )


def _reference(q, k, v, bias=None):
    scores = torch.einsum("bhnd,bhmd->bhnm", q.double(), k.double()) / q.shape[-1] ** 0.5
    if bias is not None:
        scores = scores + bias.double()
    return torch.einsum("bhnm,bhmd->bhnd", scores.softmax(-1), v.double()).float()


@pytest.mark.parametrize("backend", ["sdpa", "math"])
def test_backends_agree_with_float64_reference(backend):
    q, k, v = _qkv()
    bias = torch.randn(1, 3, 7, 9)
    torch.testing.assert_close(attention(q, k, v, backend=backend), _reference(q, k, v), rtol=1e-5, atol=1e-5)
    out = attention(q, k, v, attn_bias=bias, backend=backend)
    torch.testing.assert_close(out, _reference(q, k, v, bias), rtol=1e-5, atol=1e-5)


def test_boolean_mask_and_causal_agree_across_backends():
    q, k, v = _qkv(n=9)
    keep = torch.rand(2, 1, 9, 9) > 0.3
    keep[..., 0] = True  # every query attends somewhere
    for kwargs in (dict(attn_bias=keep), dict(is_causal=True)):
        torch.testing.assert_close(
            attention(q, k, v, backend="sdpa", **kwargs),
            attention(q, k, v, backend="math", **kwargs),
            rtol=1e-5,
            atol=1e-5,
        )


def test_return_attn_gives_the_map():
    q, k, v = _qkv()
    out, attn = attention(q, k, v, return_attn=True)
    assert attn.shape == (2, 3, 7, 9)
    torch.testing.assert_close(attn.sum(-1), torch.ones(2, 3, 7))
    torch.testing.assert_close(out, attn @ v)


def test_backend_selection_setter_and_context():
    assert get_attention_backend() == "sdpa"
    with attention_backend("math"):
        assert get_attention_backend() == "math"
    assert get_attention_backend() == "sdpa"
    set_attention_backend("math")
    try:
        assert get_attention_backend() == "math"
    finally:
        set_attention_backend("sdpa")
    with pytest.raises(ValueError, match="unknown attention backend 'flash'"):
        set_attention_backend("flash")


def test_xformers_backend_refuses_cpu_tensors_clearly():
    q, k, v = _qkv()
    with pytest.raises(RuntimeError, match="xformers"):
        attention(q, k, v, backend="xformers")


def test_environment_variable_selects_backend(tmp_path):
    import subprocess
    import sys

    code = "from vision.layers.attention import get_attention_backend; print(get_attention_backend())"
    out = subprocess.run(
        [sys.executable, "-c", code], env={"SHIJIE_ATTN_BACKEND": "math", "PATH": ""}, capture_output=True, text=True
    )
    assert out.stdout.strip() == "math", out.stderr
