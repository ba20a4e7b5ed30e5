"""Screenshots of the demo's four tabs for the README: assets/screenshot_{generate,compare,reaction,about}.png.

    python assets/make_screenshots.py [--checkpoint DIR] [--size 384]

Starts ``app.py`` on 127.0.0.1 (the bundled model when it exists, else ``--checkpoint``, else a tiny untrained
test model, whose motion is noise: re-run once the bundled model is trained), then drives Debian's Chromium
with Playwright (no browser download): each tab is filled in, run, and captured with its video paused at 1.5 s.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 300_000


def _pause_videos(page, selector: str) -> None:
    """Wait until the videos under ``selector`` are loaded, then hold them at 1.5 s for a stable picture."""
    videos = page.locator(f"{selector} video")
    videos.first.wait_for(state="attached", timeout=TIMEOUT_MS)
    for i in range(videos.count()):
        handle = videos.nth(i).element_handle()
        page.wait_for_function("v => v.readyState >= 2 && v.duration > 0", arg=handle, timeout=TIMEOUT_MS)
        handle.evaluate("v => { v.pause(); v.currentTime = Math.min(1.5, v.duration / 2); }")
    page.wait_for_timeout(800)


def shoot(url: str, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1360, "height": 1000})
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(url, wait_until="networkidle")

        page.locator("#gen-prompt textarea").fill("They step forward and shake right hands.")
        page.locator("#gen-run").click()
        _pause_videos(page, "#gen-video-0")
        page.wait_for_timeout(1500)  # the 3D view loads its GLB
        page.screenshot(path=str(out / "screenshot_generate.png"))

        page.get_by_role("tab", name="Compare").click()
        page.locator("#cmp-run").click()
        _pause_videos(page, "#cmp-both")
        _pause_videos(page, "#cmp-a")
        _pause_videos(page, "#cmp-b")
        page.screenshot(path=str(out / "screenshot_compare.png"), full_page=True)

        page.get_by_role("tab", name="Reaction").click()
        page.get_by_text("punch_right.bvh").first.click()
        page.wait_for_timeout(1000)  # the example file is copied into the upload box
        page.locator("#react-run").click()
        _pause_videos(page, "#react-video")
        page.wait_for_timeout(1500)
        page.screenshot(path=str(out / "screenshot_reaction.png"))

        page.get_by_role("tab", name="About").click()
        page.wait_for_timeout(800)
        page.screenshot(path=str(out / "screenshot_about.png"))
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()

    from fixtures import AppServer

    from intermask.api import DEFAULT_CHECKPOINT

    work = Path(tempfile.mkdtemp(prefix="screenshots_"))
    checkpoints = None  # AppServer's tiny test models
    if args.checkpoint is not None:
        checkpoints = (args.checkpoint,)
    elif (DEFAULT_CHECKPOINT / "config.json").exists():
        checkpoints = ()  # the app's own choice: the bundled models
    with AppServer(work, video_size=args.size, checkpoints=checkpoints, timeout=600) as server:
        shoot(server.url, args.out)
    print("wrote", ", ".join(sorted(p.name for p in args.out.glob("screenshot_*.png"))))


if __name__ == "__main__":
    main()
