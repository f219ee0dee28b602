"""The torchvision stand-ins for mmcv's compiled ops match torchvision's reference ops and fail clearly elsewhere."""

from __future__ import annotations

import pytest
import torch
import torchvision

pytest.importorskip("mmcv", reason="mmcv (mmcv-lite is enough) is not installed; the det extra provides it")

from vision.dense import mmcv_compat  # noqa: E402

if not mmcv_compat.install() and not mmcv_compat.is_active():
    pytest.skip("full mmcv with compiled ops is installed; the compat layer steps aside", allow_module_level=True)

from mmcv.ops import RoIAlign, batched_nms, nms, roi_align  # noqa: E402


def _boxes(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * 50
    wh = torch.rand(n, 2, generator=g) * 20 + 1
    return torch.cat([xy, xy + wh], dim=1), torch.rand(n, generator=g)


def _reference_nms(boxes: torch.Tensor, scores: torch.Tensor, thr: float, offset: int) -> list[int]:
    """Greedy NMS written out, with mmcv's ``offset`` pixel convention."""
    order = scores.argsort(descending=True).tolist()
    keep: list[int] = []
    area = (boxes[:, 2] - boxes[:, 0] + offset) * (boxes[:, 3] - boxes[:, 1] + offset)
    for i in order:
        ok = True
        for j in keep:
            lo, hi = torch.maximum(boxes[i, :2], boxes[j, :2]), torch.minimum(boxes[i, 2:], boxes[j, 2:])
            inter = (hi - lo + offset).clamp(min=0).prod()
            if inter / (area[i] + area[j] - inter) > thr:
                ok = False
                break
        if ok:
            keep.append(i)
    return keep


@pytest.mark.parametrize("offset", [0, 1])
def test_nms_matches_reference(offset: int) -> None:
    boxes, scores = _boxes(60)
    dets, keep = nms(boxes, scores, iou_threshold=0.3, offset=offset)
    assert keep.tolist() == _reference_nms(boxes, scores, 0.3, offset)
    assert torch.equal(dets[:, 4], scores[keep])
    if offset == 0:
        assert torch.equal(keep, torchvision.ops.nms(boxes, scores, 0.3))


def test_batched_nms_matches_torchvision() -> None:
    boxes, scores = _boxes(80, seed=1)
    labels = torch.arange(80) % 3
    dets, keep = batched_nms(boxes, scores, labels, dict(type="nms", iou_threshold=0.4))
    expected = torchvision.ops.batched_nms(boxes, scores, labels, 0.4)
    assert sorted(keep.tolist()) == sorted(expected.tolist())
    assert torch.all(dets[:-1, 4] >= dets[1:, 4])  # sorted by score


@pytest.mark.parametrize("aligned", [True, False])
@pytest.mark.parametrize("sampling_ratio", [0, 2])
def test_roi_align_forward_matches_torchvision(aligned: bool, sampling_ratio: int) -> None:
    feats = torch.randn(2, 4, 16, 20)
    boxes, _ = _boxes(7, seed=2)
    rois = torch.cat([torch.tensor([0, 1, 0, 1, 1, 0, 1.0])[:, None], boxes / 2], dim=1)  # (K, 5)
    layer = RoIAlign((5, 3), spatial_scale=0.5, sampling_ratio=sampling_ratio, aligned=aligned)
    out = layer(feats, rois)
    ref = torchvision.ops.roi_align(feats, rois, (5, 3), 0.5, sampling_ratio, aligned)
    assert out.shape == (7, 4, 5, 3)
    torch.testing.assert_close(out, ref)


def test_roi_align_backward_gradcheck() -> None:
    feats = torch.randn(1, 2, 6, 7, dtype=torch.float64, requires_grad=True)
    rois = torch.tensor([[0, 0.5, 1.0, 4.2, 5.1], [0, 2.0, 0.3, 6.5, 3.3]], dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda f: roi_align(f, rois, (3, 2), 1.0, 2, "avg", True), (feats,))


def test_roi_align_gradient_matches_torchvision() -> None:
    feats = torch.randn(2, 3, 12, 12, requires_grad=True)
    rois = torch.tensor([[0, 1.0, 1.0, 9.0, 7.0], [1, 0.0, 2.0, 5.0, 11.0]])
    weights = torch.randn(2, 3, 4, 4)
    (roi_align(feats, rois, (4, 4), 1.0, 0, "avg", True) * weights).sum().backward()
    ours = feats.grad.clone()
    feats.grad = None
    (torchvision.ops.roi_align(feats, rois, (4, 4), 1.0, 0, True) * weights).sum().backward()
    torch.testing.assert_close(ours, feats.grad)


def test_max_pool_roi_align_is_refused_by_name() -> None:
    layer = RoIAlign((2, 2), spatial_scale=1.0, pool_mode="max")
    with pytest.raises(mmcv_compat.MissingMMCVOpError, match="pool_mode='max'"):
        layer(torch.randn(1, 1, 4, 4), torch.tensor([[0, 0, 0, 3, 3.0]]))


def test_uncovered_op_raises_naming_it() -> None:
    from mmcv.ops import DeformConv2d

    layer = DeformConv2d(2, 2, 3, padding=1)
    with pytest.raises(mmcv_compat.MissingMMCVOpError, match="deform_conv_forward"):
        layer(torch.randn(1, 2, 5, 5), torch.zeros(1, 18, 5, 5))


def test_install_is_idempotent() -> None:
    assert mmcv_compat.install() is True
    assert mmcv_compat.is_active()


def test_steps_aside_when_compiled_ops_exist(tmp_path) -> None:
    """With a real ``mmcv._ext`` importable (here a stand-in file on mmcv's path), install() leaves it in charge."""
    import subprocess
    import sys

    ext_dir = tmp_path / "ext"
    ext_dir.mkdir()
    (ext_dir / "_ext.py").write_text("def nms(*args, **kwargs):\n    return 'compiled'\n")
    script = (
        "import mmcv, sys\n"
        f"mmcv.__path__.append({str(ext_dir)!r})\n"
        "from vision.dense import mmcv_compat\n"
        "assert mmcv_compat.install() is False and not mmcv_compat.is_active()\n"
        "import mmcv._ext\n"
        "print(mmcv._ext.nms())\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "compiled"
