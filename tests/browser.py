"""Shared helpers for demo browser tests: serve a Gradio Blocks on localhost and drive it in headless Chromium.

Usage in a test marked ``@pytest.mark.browser``::

    from tests.browser import chromium_page, serve_blocks  # pytest: pythonpath = ["."]

    with serve_blocks(demo) as url, chromium_page() as page:
        page.goto(url)
        ...

Both helpers skip the calling test with a reason when Chromium or playwright is missing, so the demo tests never
fail on a machine without a browser.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

CHROMIUM = os.environ.get("SHIJIE_CHROMIUM", "/usr/bin/chromium")
# Headless, no sandbox (containers), and nothing that reaches for the network in the background.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve_blocks(blocks: Any) -> Iterator[str]:
    """Launch a ``gradio.Blocks`` in this process on a free localhost port; yield its URL; close it afterwards."""
    port = free_port()
    blocks.queue()
    blocks.launch(
        server_name="127.0.0.1",
        server_port=port,
        prevent_thread_lock=True,
        share=False,
        quiet=True,
        inbrowser=False,
        ssr_mode=False,
    )
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        blocks.close()


@contextmanager
def chromium_page(timeout_ms: int = 30_000) -> Iterator[Any]:
    """A playwright sync ``Page`` in headless Chromium; skips the test when Chromium or playwright is absent."""
    if not (os.path.isfile(CHROMIUM) or shutil.which(CHROMIUM)):
        pytest.skip(f"chromium is absent ({CHROMIUM}); install Debian's `chromium` package to run browser tests")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install playwright)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(timeout_ms)
            yield page
        finally:
            browser.close()
