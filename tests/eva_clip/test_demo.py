"""The Gradio demo: its logic directly, and the real app driven in headless Chromium."""

from __future__ import annotations

import pytest
from PIL import Image

from eva_clip.demo import ClipApp


@pytest.fixture(scope="module")
def app(make_clip, data_dir):
    return ClipApp(make_clip(img_size=64), data_dir / "imagenet" / "images")


def test_classify_returns_a_distribution(app, data_dir):
    image = Image.open(data_dir / "imagenet" / "images" / "n02123045_tabby.JPEG")
    probs = app.classify(image, "cat, dog , car,")
    assert list(probs) == ["cat", "dog", "car"]
    assert abs(sum(probs.values()) - 1.0) < 1e-5


def test_classify_bad_inputs(app, data_dir):
    image = Image.open(data_dir / "imagenet" / "images" / "n02123045_tabby.JPEG")
    with pytest.raises(ValueError, match="at least one label"):
        app.classify(image, " , ,")
    with pytest.raises(ValueError, match="upload an image"):
        app.classify(None, "cat")


def test_search_ranks_the_indexed_folder(app):
    hits = app.search("a zebra", k=3)
    assert len(hits) == 3 and len(app.paths) == 49
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)


@pytest.mark.browser
def test_demo_in_headless_chromium(app, data_dir):
    pytest.importorskip("gradio")
    from eva_clip.demo import build_demo
    from tests.browser import chromium_page, serve_blocks

    with serve_blocks(build_demo(app)) as url, chromium_page() as page:
        page.goto(url)
        page.locator("#image input[type=file]").set_input_files(str(data_dir / "imagenet/images/n02391049_zebra.JPEG"))
        page.locator("#labels textarea").fill("zebra, horse, banana")
        page.locator("#classify").click()
        page.wait_for_function("document.querySelector('#summary textarea').value.includes('zebra')")
        summary = page.locator("#summary textarea").input_value()
        labels = [part.split(":")[0] for part in summary.split(", ")]
        assert sorted(labels) == ["banana", "horse", "zebra"]
        assert abs(sum(float(part.split(": ")[1]) for part in summary.split(", ")) - 1.0) < 0.01
