"""ImageNet-style evaluation: accuracies, subset masking, data layouts, JSON results and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from eva.evaluate import (
    ImageList,
    ImageNetEvaluator,
    ImageNetMetrics,
    build_eval_transform,
    write_results,
)
from vision.data.imagenet import imagenet_wnids, subset_indices


def _logits_ranking(order: list[list[int]], num_classes: int = 1000) -> torch.Tensor:
    """Logits whose ranking starts with the given classes, best first."""
    logits = torch.zeros(len(order), num_classes)
    for row, classes in enumerate(order):
        for rank, c in enumerate(classes):
            logits[row, c] = 100.0 - rank
    return logits


def test_topk_and_per_class_accuracy():
    ev = ImageNetMetrics()
    # sample 0: right at rank 1; sample 1: right at rank 3; sample 2: right at rank 6 (outside top-5).
    ev.process(_logits_ranking([[7, 1], [1, 2, 7], [3, 4, 5, 6, 8, 9]]), torch.tensor([7, 7, 9]))
    ev.process(_logits_ranking([[9]]), torch.tensor([9]))
    r = ev.compute()
    assert r["num_samples"] == 4
    assert r["top1"] == pytest.approx(50.0) and r["top5"] == pytest.approx(75.0)
    assert r["per_class"] == {7: 50.0, 9: 50.0}
    assert r["mean_per_class"] == pytest.approx(50.0)


def test_subset_benchmark_ignores_logits_outside_the_subset():
    subset = subset_indices("imagenet-r")
    assert len(subset) == 200 and len(subset_indices("imagenet-a")) == 200
    outside = next(c for c in range(1000) if c not in subset)
    label = subset[3]
    logits = _logits_ranking([[outside, label]])
    plain, masked = ImageNetMetrics(), ImageNetMetrics(benchmark="imagenet-r")
    plain.process(logits, torch.tensor([label]))
    masked.process(logits, torch.tensor([label]))
    assert plain.compute()["top1"] == 0.0
    assert masked.compute()["top1"] == 100.0


def test_subset_lists_are_imagenet_classes():
    wnids = imagenet_wnids()
    assert len(wnids) == 1000 and wnids[0] == "n01440764"
    assert subset_indices("imagenet") is None and subset_indices("imagenet-v2") is None


def test_tools_test_smoke_on_shared_images_with_a_tiny_random_model(data_dir, tmp_path):
    root = Path(__file__).resolve().parents[2]
    results = tmp_path / "results.json"
    options = [
        "model.name=eva02_test_patch14_56",
        f"test_dataloader.dataset.root={data_dir / 'imagenet' / 'labels.csv'}",
        "test_dataloader.dataset.transform.img_size=56",
        "test_dataloader.batch_size=16",
        "test_dataloader.num_workers=0",
        f"evaluator.results_file={results}",
    ]
    cmd = [sys.executable, "tools/test.py", "configs/eva/eval_imagenet.py", "--cfg-options", *options]
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    saved = json.loads(results.read_text())
    assert saved["num_samples"] == 49 and len(saved["per_class"]) == 49  # one image per class in the sample set
    assert 0.0 <= saved["top1"] <= saved["top5"] <= 100.0
    assert f"top1 {saved['top1']:.2f}" in proc.stdout


def test_evaluator_matches_a_scripted_model(data_dir):
    from vision.engine import DistContext, EvalContext

    ds = ImageList(data_dir / "imagenet" / "labels.csv", transform=build_eval_transform(28))
    assert len(ds) == 49 and ds[0][0].shape == (3, 28, 28) and ds[0][1] == 0
    labels = [ds.samples[i][1] for i in range(8)]
    loader = torch.utils.data.DataLoader(torch.utils.data.Subset(ds, range(8)), batch_size=4)

    class Scripted(torch.nn.Module):
        """Predicts a scripted sequence of classes, one per image, in loader order."""

        def __init__(self, classes: list[int]) -> None:
            super().__init__()
            self.classes = iter(classes)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return _logits_ranking([[next(self.classes)] for _ in range(len(x))])

    guesses = labels[:4] + [(c + 1) % 1000 for c in labels[4:]]
    evaluator = ImageNetEvaluator(progress=False)
    metrics = evaluator(Scripted(guesses), loader, EvalContext(DistContext()))
    assert metrics["top1"] == pytest.approx(50.0) and evaluator.results["num_samples"] == 8


def test_folder_layouts(tmp_path):
    wnids = imagenet_wnids()
    for name in (wnids[3], wnids[10]):
        (tmp_path / "val" / name).mkdir(parents=True)
        Image.new("RGB", (8, 8)).save(tmp_path / "val" / name / "a.jpg")
    (tmp_path / "v2" / "17").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(tmp_path / "v2" / "17" / "x.png")
    assert [s[1] for s in ImageList(tmp_path / "val").samples] == [3, 10]
    assert [s[1] for s in ImageList(tmp_path / "v2", "imagenet-v2").samples] == [17]
    with pytest.raises(ValueError, match="'17'.*not an ImageNet-1k WordNet id"):
        ImageList(tmp_path / "v2")


def test_results_json_round_trip(tmp_path):
    ev = ImageNetMetrics()
    ev.process(_logits_ranking([[5]]), torch.tensor([5]))
    write_results(ev.compute(), tmp_path / "out" / "r.json")
    loaded = json.loads((tmp_path / "out" / "r.json").read_text())
    assert loaded["top1"] == 100.0 and loaded["per_class"] == {"5": 100.0}


def test_bad_inputs(tmp_path):
    with pytest.raises(ValueError, match="unknown benchmark 'imagenet-x'"):
        ImageNetMetrics(benchmark="imagenet-x")
    with pytest.raises(ValueError, match="imagenet-a masks the logits of a 1000-class model; this model has 10"):
        ImageNetMetrics(num_classes=10, benchmark="imagenet-a")
    with pytest.raises(ValueError, match=r"shape \(B, 1000\), got \(2, 10\)"):
        ImageNetMetrics().process(torch.zeros(2, 10), torch.zeros(2))
    outside = next(c for c in range(1000) if c not in subset_indices("imagenet-a"))
    with pytest.raises(ValueError, match=f"label {outside} is not one of the imagenet-a classes"):
        ImageNetMetrics(benchmark="imagenet-a").process(torch.zeros(1, 1000), torch.tensor([outside]))
    with pytest.raises(RuntimeError, match="no samples"):
        ImageNetMetrics().compute()
    bad_csv = tmp_path / "l.csv"
    bad_csv.write_text("path,label\nx.jpg,1\n")
    with pytest.raises(ValueError, match="lacks the column"):
        ImageList(bad_csv)
    with pytest.raises(FileNotFoundError, match="neither a folder nor a CSV"):
        ImageList(tmp_path / "missing")
