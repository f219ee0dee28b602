"""Painter's metrics against independent references (scikit-image, scikit-learn) and known values."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from painter.codecs import DepthCodec
from painter.metrics import DepthMeter, SegmentationMeter, depth_errors, psnr, rgb_to_y, ssim

RNG = np.random.default_rng(0)


def test_depth_errors_on_scaled_predictions():
    gt = RNG.uniform(0.5, 7.0, size=(30, 40))  # scaled by 1.3 it stays below max_depth
    exact = depth_errors(gt, gt)
    assert exact["rmse"] == 0 and exact["d1"] == 1 and exact["abs_rel"] == 0
    over = depth_errors(gt * 1.1, gt)
    assert over["d1"] == 1.0
    assert over["rmse"] == pytest.approx(np.sqrt(np.mean((0.1 * gt) ** 2)))
    assert over["abs_rel"] == pytest.approx(0.1)
    assert depth_errors(gt * 1.3, gt)["d1"] == 0.0 and depth_errors(gt * 1.3, gt)["d2"] == 1.0
    # invalid ground truth (0 = missing) is skipped
    gt_holes = gt.copy()
    gt_holes[:, :20] = 0
    assert depth_errors(np.where(gt_holes > 0, gt, 100.0), gt_holes)["rmse"] == 0


def test_depth_meter_averages_per_image_and_eigen_crop(data_dir):
    gt = np.array(Image.open(data_dir / "painter/depth/nyud2_depth.png")).astype(np.float64) / 1000
    codec = DepthCodec()
    pred = codec.decode(codec.encode(gt * 1000))
    meter = DepthMeter()
    first = meter.update(pred, gt)
    second = meter.update(gt, gt)
    assert 0 < first["rmse"] < 0.012 and second["rmse"] == 0
    assert meter.compute()["rmse"] == pytest.approx(first["rmse"] / 2)
    cropped = depth_errors(pred, gt, eigen_crop=True)
    assert cropped["rmse"] != first["rmse"]
    with pytest.raises(ValueError, match="no valid ground-truth"):
        depth_errors(gt, np.zeros_like(gt))
    with pytest.raises(ValueError, match="differ in shape"):
        depth_errors(gt[:5], gt)
    with pytest.raises(ValueError, match="no images"):
        DepthMeter().compute()


def test_segmentation_meter_matches_sklearn():
    from sklearn.metrics import jaccard_score

    meter = SegmentationMeter(num_classes=5, ignore_index=255)
    gts, preds = [], []
    for _ in range(3):
        gt = RNG.integers(0, 4, size=(20, 20))  # class 4 never appears
        pred = np.where(RNG.random((20, 20)) < 0.7, gt, RNG.integers(0, 4, size=(20, 20)))
        gt[:2] = 255
        meter.update(pred, gt)
        gts.append(gt[gt != 255])
        preds.append(pred[gt != 255])
    out = meter.compute()
    ref = jaccard_score(np.concatenate(gts), np.concatenate(preds), labels=[0, 1, 2, 3], average=None)
    np.testing.assert_allclose(out["iou"][:4], ref)
    assert np.isnan(out["iou"][4])
    assert out["miou"] == pytest.approx(ref.mean())
    assert out["pixel_acc"] == pytest.approx(np.mean(np.concatenate(gts) == np.concatenate(preds)))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 4\]"):
        meter.update(np.full((2, 2), 7), np.zeros((2, 2), int))


def test_psnr_and_ssim_match_scikit_image(data_dir):
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    noisy = np.array(Image.open(data_dir / "painter/denoise/sidd_7_noisy.png").convert("RGB"))
    clean = np.array(Image.open(data_dir / "painter/denoise/sidd_7_gt.png").convert("RGB"))
    assert psnr(noisy, clean) == pytest.approx(peak_signal_noise_ratio(clean, noisy, data_range=255))
    assert psnr(noisy, clean) == pytest.approx(30.2, abs=0.05)  # the value the data README states
    ref = structural_similarity(
        clean, noisy, data_range=255, channel_axis=-1, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    assert ssim(noisy, clean) == pytest.approx(ref, abs=1e-6)
    assert ssim(clean, clean) == pytest.approx(1.0)
    assert psnr(clean, clean) == float("inf")
    # Y channel (deraining protocol): luma in studio range, and the metric differs from RGB
    y = rgb_to_y(clean)
    assert 16 <= y.min() and y.max() <= 235
    assert psnr(noisy, clean, y_channel=True) != psnr(noisy, clean)
    with pytest.raises(ValueError, match="at least 11x11"):
        ssim(clean[:5, :5], clean[:5, :5])
    with pytest.raises(ValueError, match="differ in shape"):
        psnr(clean, clean[:10])
