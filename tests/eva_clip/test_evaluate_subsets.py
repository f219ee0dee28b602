"""ImageNet-A / R zero-shot variants score only their 200 classes."""

import pytest

from eva_clip.evaluate import ZeroShotEvaluator
from vision.data.imagenet import imagenet_wnids, subset_indices


@pytest.mark.parametrize("benchmark", ["imagenet-a", "imagenet-r"])
def test_benchmark_picks_its_200_classes(benchmark):
    evaluator = ZeroShotEvaluator(benchmark=benchmark)
    assert len(evaluator.class_ids) == 200 == len(set(evaluator.class_ids))
    assert evaluator.class_ids == list(subset_indices(benchmark))
    assert len(evaluator.classnames) == 200


def test_subsets_are_real_imagenet_ids():
    wnids = imagenet_wnids()
    assert len(wnids) == 1000 and wnids[0] == "n01440764"  # tench
    assert subset_indices("imagenet") is None
    assert subset_indices("imagenet-a") != subset_indices("imagenet-r")
    with pytest.raises(ValueError, match="unknown benchmark"):
        subset_indices("imagenet-z")
    with pytest.raises(ValueError, match="not both"):
        ZeroShotEvaluator(benchmark="imagenet-a", class_indices=[1, 2])
