"""The Painter demo's handlers: example prompts from the sample data, every task's run, readable errors."""

from __future__ import annotations

import numpy as np
import pytest

from painter.demo import RANDOM_WARNING, TASK_LABELS, build_demo, example_prompts, load_model, main, run_task_demo


@pytest.fixture(scope="module")
def tiny():
    model, warning = load_model(None)
    assert warning == RANDOM_WARNING
    return model


@pytest.fixture(scope="module")
def examples(data_dir):
    return example_prompts(data_dir)


def test_examples_cover_the_sample_data(examples):
    assert set(examples) == {"depth", "denoise", "lowlight", "panoptic"}
    assert "target2" in examples["panoptic"]
    assert example_prompts(None) == {}


@pytest.mark.parametrize("task", ["depth", "denoise"])  # panoptic decoding: tests/painter/test_inference.py
def test_run_task_demo_with_example_prompts(tiny, examples, task):
    ex = examples[task]
    painting, picture, summary = run_task_demo(tiny, task, ex["query"], ex["prompt"], ex["target"], ex.get("target2"))
    assert painting.dtype == np.uint8 and painting.shape == picture.shape
    assert summary


def test_run_task_demo_errors(tiny, examples, tmp_path):
    ex = examples["panoptic"]
    with pytest.raises(ValueError, match="second painted target"):
        run_task_demo(tiny, "panoptic", ex["query"], ex["prompt"], ex["target"], None)
    with pytest.raises(ValueError, match="give a query image"):
        run_task_demo(tiny, "depth", None, ex["prompt"], ex["target"])
    with pytest.raises(ValueError, match="must be the same size"):
        run_task_demo(tiny, "depth", ex["query"], ex["prompt"], examples["denoise"]["target"])
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(ValueError, match="not a readable image"):
        run_task_demo(tiny, "depth", text, ex["prompt"], ex["target"])
    with pytest.raises(ValueError, match="unknown task"):
        run_task_demo(tiny, "edges", ex["query"], ex["prompt"], ex["target"])


def test_blocks_build_and_cli_refuses_missing_checkpoint(tiny, examples, capsys, tmp_path):
    demo = build_demo(tiny, RANDOM_WARNING, examples)
    assert demo is not None and len(TASK_LABELS) == 7
    assert main(["--checkpoint", str(tmp_path / "nope.pth")]) == 2
    assert "does not exist" in capsys.readouterr().err
