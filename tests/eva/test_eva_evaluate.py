"""ImageNet-style evaluation: accuracies, subset masking, data layouts, JSON results and bad input."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from eva.evaluate import (
    ClassificationEvaluator,
    ImageList,
    build_eval_transform,
    evaluate,
    imagenet_wnids,
    subset_indices,
    write_results,
)


def _logits_ranking(order: list[list[int]], num_classes: int = 1000) -> torch.Tensor:
    """Logits whose ranking starts with the given classes, best first."""
    logits = torch.zeros(len(order), num_classes)
    for row, classes in enumerate(order):
        for rank, c in enumerate(classes):
            logits[row, c] = 100.0 - rank
    return logits


def test_topk_and_per_class_accuracy():
    ev = ClassificationEvaluator()
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
    plain, masked = ClassificationEvaluator(), ClassificationEvaluator(benchmark="imagenet-r")
    plain.process(logits, torch.tensor([label]))
    masked.process(logits, torch.tensor([label]))
    assert plain.compute()["top1"] == 0.0
    assert masked.compute()["top1"] == 100.0


def test_subset_lists_are_imagenet_classes():
    wnids = imagenet_wnids()
    assert len(wnids) == 1000 and wnids[0] == "n01440764"
    assert subset_indices("imagenet") is None and subset_indices("imagenet-v2") is None


def test_csv_list_smoke_on_shared_images(data_dir):
    csv_path = data_dir / "imagenet" / "labels.csv"
    ds = ImageList(csv_path, transform=build_eval_transform(32))
    assert len(ds) == 49
    image, label = ds[0]
    assert image.shape == (3, 32, 32) and label == 0
    loader = torch.utils.data.DataLoader(torch.utils.data.Subset(ds, range(8)), batch_size=4)

    class Oracle(torch.nn.Module):
        """Predicts a scripted sequence of classes, one per image, in loader order."""

        def __init__(self, labels: list[int]) -> None:
            super().__init__()
            self.labels = iter(labels)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return _logits_ranking([[next(self.labels)] for _ in range(len(x))])

    labels = [ds.samples[i][1] for i in range(8)]
    guesses = labels[:4] + [(c + 1) % 1000 for c in labels[4:]]
    r = evaluate(Oracle(guesses), loader, ClassificationEvaluator(), progress=False)
    assert r["top1"] == pytest.approx(50.0) and r["num_samples"] == 8


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
    ev = ClassificationEvaluator()
    ev.process(_logits_ranking([[5]]), torch.tensor([5]))
    write_results(ev.compute(), tmp_path / "out" / "r.json")
    loaded = json.loads((tmp_path / "out" / "r.json").read_text())
    assert loaded["top1"] == 100.0 and loaded["per_class"] == {"5": 100.0}


def test_bad_inputs(tmp_path):
    with pytest.raises(ValueError, match="unknown benchmark 'imagenet-x'"):
        ClassificationEvaluator(benchmark="imagenet-x")
    with pytest.raises(ValueError, match="imagenet-a masks the logits of a 1000-class model; this model has 10"):
        ClassificationEvaluator(num_classes=10, benchmark="imagenet-a")
    with pytest.raises(ValueError, match=r"shape \(B, 1000\), got \(2, 10\)"):
        ClassificationEvaluator().process(torch.zeros(2, 10), torch.zeros(2))
    outside = next(c for c in range(1000) if c not in subset_indices("imagenet-a"))
    with pytest.raises(ValueError, match=f"label {outside} is not one of the imagenet-a classes"):
        ClassificationEvaluator(benchmark="imagenet-a").process(torch.zeros(1, 1000), torch.tensor([outside]))
    with pytest.raises(RuntimeError, match="no samples"):
        ClassificationEvaluator().compute()
    bad_csv = tmp_path / "l.csv"
    bad_csv.write_text("path,label\nx.jpg,1\n")
    with pytest.raises(ValueError, match="lacks the column"):
        ImageList(bad_csv)
    with pytest.raises(FileNotFoundError, match="neither a folder nor a CSV"):
        ImageList(tmp_path / "missing")
