"""Zero-shot classification, retrieval recall, the datasets, and the tools/test.py path on real images."""

from __future__ import annotations

import io
import tarfile

import pytest
import torch
import torch.nn.functional as F

from eva_clip.data import ImageTextCsvDataset, ImageTextTarDataset, LabeledCsvDataset, clip_transform
from eva_clip.retrieval import evaluate_retrieval, retrieval_recall
from eva_clip.tokenizer import tokenize
from eva_clip.zero_shot import build_zero_shot_classifier, imagenet_classnames, openai_templates, topk_correct
from vision.data.image_loader import CorruptImageError


def test_shipped_class_names_and_templates():
    names, templates = imagenet_classnames(), openai_templates()
    assert len(names) == 1000 and names[0] == "tench" and names[281] == "tabby cat"
    assert len(templates) == 80 and all("{c}" in t for t in templates)


def test_classifier_is_the_mean_of_normalised_prompt_embeddings(make_clip):
    model = make_clip()
    templates = ["a photo of a {c}.", "a drawing of a {c}."]
    weights = build_zero_shot_classifier(model, tokenize, ["cat", "dog", "car"], templates, batch_size=4)
    assert weights.shape == (32, 3)
    with torch.no_grad():
        cat = model.encode_text(tokenize([t.format(c="cat") for t in templates]), normalize=True).mean(0)
    torch.testing.assert_close(weights[:, 0], F.normalize(cat, dim=0))


def test_classifier_bad_inputs(make_clip):
    model = make_clip()
    with pytest.raises(ValueError, match="classnames is empty"):
        build_zero_shot_classifier(model, tokenize, [], ["{c}"])
    with pytest.raises(ValueError, match="must contain"):
        build_zero_shot_classifier(model, tokenize, ["cat"], ["a photo"])


def test_topk_correct_counts():
    logits = torch.tensor([[0.1, 0.9, 0.0], [0.8, 0.1, 0.3], [0.2, 0.3, 0.5]])
    hits = topk_correct(logits, torch.tensor([1, 2, 0]), ks=(1, 2, 5))
    assert [int(hits[k]) for k in (1, 2, 5)] == [1, 2, 3]


def test_retrieval_recall_both_directions():
    images = torch.eye(3)
    texts = torch.tensor([[1.0, 0, 0], [0, 0.4, 0.9], [0, 0.9, 0.1], [0.6, 0.8, 0]])
    recall = retrieval_recall(images, texts, torch.tensor([0, 1, 2, 0]), ks=(1, 2))  # captions 0 and 3: image 0
    assert recall["text_to_image_R@1"] == pytest.approx(25.0)  # only caption 0 ranks its image first
    assert recall["text_to_image_R@2"] == pytest.approx(100.0)
    assert recall["image_to_text_R@1"] == pytest.approx(100.0 / 3)  # image 0 (caption 0); image 1 and 2 miss
    assert recall["image_to_text_R@2"] == pytest.approx(200.0 / 3)  # image 2 finds caption 2 second


def test_evaluate_retrieval_on_real_images(make_clip, data_dir, tmp_path):
    rows = ["filepath,title"]
    for name in ("n02391049_zebra", "n02123045_tabby", "n07753592_banana"):
        path = data_dir / "imagenet" / "images" / f"{name}.JPEG"
        rows += [f"{path},a photo of a {name.split('_', 1)[1]}", f"{path},the {name.split('_', 1)[1]}"]
    captions = tmp_path / "captions.csv"
    captions.write_text("\n".join(rows))
    recall = evaluate_retrieval(make_clip(img_size=64), captions, ks=(1, 5, 10))
    assert set(recall) == {f"{d}_R@{k}" for d in ("text_to_image", "image_to_text") for k in (1, 5, 10)}
    assert recall["text_to_image_R@5"] == 100.0  # 3 images: everything is within the top 5


def test_csv_tsv_and_tar_datasets(data_dir, tmp_path):
    image = data_dir / "imagenet" / "images" / "n02391049_zebra.JPEG"
    (tmp_path / "c.tsv").write_text(f"filepath\ttitle\n{image}\ta zebra, {'striped ' * 100}\n")
    transform = clip_transform(32)
    pixels, tokens = ImageTextCsvDataset(tmp_path / "c.tsv", transform=transform)[0]
    assert pixels.shape == (3, 32, 32) and tokens.shape == (77,) and tokens[-1] == tokenize("x")[0].max()

    shard = tmp_path / "shards" / "000.tar"
    shard.parent.mkdir()
    with tarfile.open(shard, "w") as tar:
        for key, payload in (("a.jpg", image.read_bytes()), ("a.txt", b"a zebra"), ("b.txt", b"no image")):
            info = tarfile.TarInfo(key)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    tar_ds = ImageTextTarDataset(shard.parent, transform=transform)
    assert len(tar_ds) == 1
    torch.testing.assert_close(tar_ds[0][0], pixels)
    torch.testing.assert_close(tar_ds[0][1], tokenize("a zebra")[0])


def test_undecodable_image_and_bad_tables(tmp_path):
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    (tmp_path / "c.csv").write_text("filepath,title\nbroken.jpg,a cat\n")
    with pytest.raises(CorruptImageError, match="broken.jpg"):
        ImageTextCsvDataset(tmp_path / "c.csv")[0]
    (tmp_path / "bad.csv").write_text("path,caption\nx.jpg,a cat\n")
    with pytest.raises(ValueError, match=r"missing column\(s\) \['filepath', 'title'\]"):
        ImageTextCsvDataset(tmp_path / "bad.csv")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        LabeledCsvDataset(tmp_path / "missing.csv")


def test_zero_shot_smoke_config_runs_tools_test(data_dir, capsys):
    """The whole evaluation path (config -> engine -> evaluator) on the 49 real ImageNet images."""
    from vision.config import load_config
    from vision.engine import evaluate_checkpoint

    cfg = load_config(
        "configs/eva_clip/smoke_zeroshot_cpu.py",
        [f"test_dataloader.dataset.path={data_dir / 'imagenet' / 'labels.csv'}"],
    )
    metrics = evaluate_checkpoint(cfg, None)
    assert 0.0 <= metrics["top1"] <= metrics["top5"] <= 100.0


def test_class_subset_scores_only_those_classes(make_clip, data_dir):
    from eva_clip.evaluate import ZeroShotEvaluator

    with pytest.raises(ValueError, match="outside the 1000 class names"):
        ZeroShotEvaluator(class_indices=[5, 1000])
    evaluator = ZeroShotEvaluator(class_indices=[281, 340], templates=["a photo of a {c}."])
    assert evaluator.classnames == ["tabby cat", "zebra"]
