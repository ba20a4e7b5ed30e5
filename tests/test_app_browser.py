"""The demo in a real browser: Playwright drives Debian's Chromium (no browser download), types a prompt,
clicks Generate and checks that the resulting video element loads and plays.

Skipped, with the reason, when the ``playwright`` package or /usr/bin/chromium is missing.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from fixtures import AppServer

CHROMIUM = os.environ.get("INTERMASK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 120_000

sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (no `playwright install`)")
if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with AppServer(tmp_path_factory.mktemp("app_browser"), video_size=128) as srv:
        yield srv


@pytest.fixture(scope="module")
def page(server):
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(server.url, wait_until="networkidle")
            yield page
        finally:
            browser.close()


def loaded_video(page, selector: str):
    """The video element at ``selector`` once its current frame is available (readyState ≥ 2)."""
    video = page.locator(selector)
    video.wait_for(state="attached", timeout=TIMEOUT_MS)
    page.wait_for_function("v => v.readyState >= 2 && v.duration > 0", arg=video.element_handle(),
                           timeout=TIMEOUT_MS)
    return video


def test_type_a_prompt_click_generate_and_the_video_plays(page):
    page.locator("#gen-prompt textarea").fill("They step forward and shake right hands.")
    page.locator("#gen-run").click()
    # Loaded (readyState ≥ 2: the current frame is available), 3 s long (the default duration), 128 px high.
    video = loaded_video(page, "#gen-video-0 video")
    assert abs(video.evaluate("v => v.duration") - 3.0) < 0.1
    assert video.evaluate("v => v.videoHeight") == 128
    # It plays: autoplay is muted-safe (no audio track), and the clock moves forward.
    video.evaluate("v => { v.muted = true; return v.play(); }")
    page.wait_for_function("v => !v.paused && v.currentTime > 0.3", arg=video.element_handle(), timeout=30_000)
    # The 3D view and the downloads were filled too.
    assert page.locator("a[href$='.glb'], a[download$='.glb']").count() >= 1
    assert page.locator("canvas").count() >= 1  # Model3D draws the GLB on a canvas


def test_examples_fill_the_prompt_and_the_dice_changes_the_seed(page):
    expect = sync_api.expect
    page.get_by_text("Both people hug each other.", exact=True).first.click()
    expect(page.locator("#gen-prompt textarea")).to_have_value("Both people hug each other.", timeout=30_000)
    seed = page.get_by_label("Seed").first
    before = seed.input_value()
    page.get_by_role("button", name="🎲").first.click()
    expect(seed).not_to_have_value(before, timeout=30_000)


def test_edit_the_last_result_and_play_before_and_after(page):
    expect = sync_api.expect
    page.get_by_role("tab", name="Generate").click()
    page.locator("#gen-prompt textarea").fill("They give each other a high five with their left hands.")
    page.locator("#gen-run").click()
    expect(page.locator("#gen-video-0 video")).to_have_attribute("src", re.compile("sample_1"), timeout=TIMEOUT_MS)
    page.get_by_role("tab", name="Edit").click()
    page.locator("#edit-last").click()  # the generated clip becomes the motion to edit; the sliders reach its end
    expect(page.locator("#edit-info")).to_contain_text("3.00 s, 90 frames", timeout=60_000)
    page.locator("#edit-prompt textarea").fill("Both people hug each other.")
    page.locator("#edit-run").click()
    video = loaded_video(page, "#edit-video video")
    assert abs(video.evaluate("v => v.duration") - 3.0) < 0.1
    assert video.evaluate("v => v.videoWidth") == 2 * 128  # before and after, side by side
    assert page.locator("a[href$='edit.npz'], a[download$='edit.npz']").count() >= 1


def test_live_reaction_starts_at_once_and_keeps_drawing(page):
    """Live mode: pick an example partner, press Live; the view appears and is redrawn while the partner plays,
    with the measured latency, and ends with the reaction's file."""
    expect = sync_api.expect
    page.get_by_role("tab", name="Reaction").click()
    page.get_by_text("wave_right_hand.npz").first.click()
    expect(page.locator("#react-partner")).to_contain_text("wave_right_hand", timeout=60_000)  # uploaded
    page.locator("#react-live-run").click()
    start = page.evaluate("performance.now()")
    image = page.locator("#react-live-view img")
    image.wait_for(state="visible", timeout=TIMEOUT_MS)
    first_ms = page.evaluate("performance.now()") - start
    first = image.get_attribute("src")
    expect(page.locator("#react-live-status")).to_contain_text("Latency", timeout=TIMEOUT_MS)
    page.wait_for_function("([img, src]) => img.src !== src", arg=[image.element_handle(), first],
                           timeout=TIMEOUT_MS)  # a later frame replaced the first one
    expect(page.locator("#react-live-status")).to_contain_text("Done", timeout=TIMEOUT_MS)
    assert page.locator("a[href$='live_reaction.npz'], a[download$='live_reaction.npz']").count() >= 1
    # About a second on an idle machine; the bound is loose because the test machine is shared.
    assert first_ms < 30_000
