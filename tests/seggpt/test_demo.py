"""The SegGPT demo: its handlers directly, then the page itself driven in headless Chromium (marked ``browser``)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from seggpt.demo import RANDOM_WARNING, build_demo, load_model, main, run_image, run_video


@pytest.fixture(scope="module")
def tiny():
    model, warning = load_model(None)
    assert warning == RANDOM_WARNING
    return model


@pytest.fixture(scope="module")
def hmbb(data_dir):
    return data_dir / "seggpt/hmbb"


def test_run_image_returns_mask_overlay_and_raw_png(tiny, hmbb):
    prompts = [(hmbb / "hmbb_1.jpg", hmbb / "hmbb_1_target.png"), (None, None), (None, None)]
    shown, over, path = run_image(tiny, hmbb / "hmbb_2.jpg", prompts)
    assert shown.shape == over.shape == (170, 297, 3)
    raw = np.asarray(Image.open(path))
    assert raw.shape == (170, 297) and set(np.unique(raw)) <= {0, 255}
    np.testing.assert_array_equal(raw > 0, shown[..., 0] > 0)


def test_run_image_uses_a_drawn_mask(tiny, hmbb):
    background = np.asarray(Image.open(hmbb / "hmbb_1.jpg").convert("RGB"))
    layer = np.zeros((*background.shape[:2], 4), np.uint8)
    layer[40:80, 100:200, 3] = 255
    drawn = {"background": background, "layers": [layer], "composite": background}
    shown, _, _ = run_image(tiny, hmbb / "hmbb_2.jpg", [(None, None)], drawn=drawn)
    assert shown.shape == (170, 297, 3)
    empty = {"background": background, "layers": [np.zeros_like(layer)], "composite": background}
    with pytest.raises(ValueError, match="nothing is drawn"):
        run_image(tiny, hmbb / "hmbb_2.jpg", [(None, None)], drawn=empty)


def test_bad_input_is_a_readable_error(tiny, hmbb, tmp_path):
    with pytest.raises(ValueError, match="prompt 2: the image is 700x400 but its mask is 300x168"):
        run_image(tiny, hmbb / "hmbb_2.jpg", [(None, None), (hmbb / "hmbb_3.jpg", hmbb / "hmbb_1_target.png")])
    with pytest.raises(ValueError, match="prompt 1: the mask is empty"):
        run_image(tiny, hmbb / "hmbb_2.jpg", [(hmbb / "hmbb_1.jpg", np.zeros((168, 300), np.uint8))])
    with pytest.raises(ValueError, match="give both the image and its mask"):
        run_image(tiny, hmbb / "hmbb_2.jpg", [(hmbb / "hmbb_1.jpg", None)])
    with pytest.raises(ValueError, match="upload a query image"):
        run_image(tiny, None, [(hmbb / "hmbb_1.jpg", hmbb / "hmbb_1_target.png")])
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(ValueError, match="not a readable image"):
        run_image(tiny, text, [(hmbb / "hmbb_1.jpg", hmbb / "hmbb_1_target.png")])
    with pytest.raises(ValueError, match="upload a video"):
        run_video(tiny, None, hmbb / "hmbb_1_target.png")


def test_run_video_writes_an_overlay_clip(tiny, data_dir):
    import av

    clip = data_dir / "video/seggpt/video_1.mp4"
    out = run_video(tiny, str(clip), data_dir / "video/seggpt/video_1_target.png", max_frames=3)
    with av.open(out) as container:
        assert sum(1 for _ in container.decode(video=0)) == 3


def test_cli_refuses_a_missing_checkpoint(capsys, tmp_path):
    assert main(["--checkpoint", str(tmp_path / "nope.pth")]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.browser
def test_demo_in_headless_chromium(tiny, hmbb):
    from tests.browser import chromium_page, serve_blocks

    demo = build_demo(tiny, RANDOM_WARNING)
    with serve_blocks(demo) as url, chromium_page(timeout_ms=60_000) as page:
        page.goto(url)
        page.get_by_text("no checkpoint given").wait_for()  # the random-model warning is on the page

        page.locator("#query input[type=file]").set_input_files(str(hmbb / "hmbb_2.jpg"))
        page.locator("#prompt1 input[type=file]").set_input_files(str(hmbb / "hmbb_1.jpg"))
        page.locator("#prompt1-mask input[type=file]").set_input_files(str(hmbb / "hmbb_1_target.png"))
        page.locator("#query img").first.wait_for()
        page.locator("#prompt1-mask img").first.wait_for()
        page.locator("#segment").click()
        status = page.locator("#status")
        status.get_by_text("Done.").wait_for()
        page.locator("#mask-out img").first.wait_for()
        page.locator("#overlay-out img").first.wait_for()
        link = page.locator("#mask-file a").first
        link.wait_for()
        assert "seggpt_mask_" in (link.get_attribute("href") or "")

        # a second prompt whose mask belongs to another image: the page reports it instead of crashing
        page.locator("#prompt2 input[type=file]").set_input_files(str(hmbb / "hmbb_3.jpg"))
        page.locator("#prompt2-mask input[type=file]").set_input_files(str(hmbb / "hmbb_1_target.png"))
        page.locator("#prompt2-mask img").first.wait_for()
        page.locator("#segment").click()
        status.get_by_text("Error").wait_for()
        assert "prompt 2" in status.inner_text() and "same size" in status.inner_text()


def test_cli_refuses_a_painter_checkpoint(capsys, tmp_path):
    import vision
    from vision.checkpoint import save_state_dict

    painter = vision.create_model("painter_vit_test_patch16_input128x64")
    path = tmp_path / "painter.safetensors"
    save_state_dict({k: v.contiguous() for k, v in painter.state_dict().items()}, path)
    assert main(["--checkpoint", str(path), "--model", "seggpt_vit_test_patch16_input128x64"]) == 2
    err = capsys.readouterr().err
    assert "cannot load" in err and "painter" in err.lower()
