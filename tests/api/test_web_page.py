"""The web page at / in real headless Chromium (Debian's, driven by Playwright) against real uvicorn:
upload through the page, progress, the result playing, and the error shown for a bad file."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.live_server import LiveServer

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("page")
    live = LiveServer({"UPLOAD_DIR": str(folder / "uploads")}, folder / "server.log").start()
    yield live
    live.stop()


@pytest.fixture
def page(server: LiveServer) -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            # A fake microphone (a beeping tone) that needs no permission prompt.
            args=[
                "--no-sandbox",
                "--autoplay-policy=no-user-gesture-required",
                "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream",
            ],
        )
        page = browser.new_page()
        page.goto(server.url + "/")
        yield page
        browser.close()


def test_a_user_uploads_sees_progress_and_watches_the_result(page: Page, face_video: Path, short_audio: Path):
    page.set_input_files("#video", str(face_video))
    page.set_input_files("#audio", str(short_audio))
    page.select_option("#sync", "cut_off")
    # Every stage text the page shows, as it shows it.
    page.evaluate("""() => { window.seenStages = [];
        new MutationObserver(() => window.seenStages.push(document.getElementById('stage').textContent))
            .observe(document.getElementById('stage'), {childList: true, characterData: true, subtree: true}); }""")
    page.click("#submit")
    expect(page.locator("#message")).to_have_text("Done.", timeout=120_000)
    seen = page.evaluate("window.seenStages")
    assert any(text.startswith(("queued", "processing")) for text in seen), seen
    assert seen[-1] == "finished, done"
    # A function, not an expression: the page's policy forbids eval, which Playwright uses for those.
    page.wait_for_function("() => document.getElementById('result').currentTime > 0.3", timeout=30_000)
    assert page.eval_on_selector("#source", "video => video.src.startsWith('blob:')")
    expect(page.locator("#download")).to_be_visible()
    # The task is listed among this browser's recent ones, and survives a reload.
    task_id = page.inner_text("#task-id")
    page.reload()
    expect(page.locator("#recent")).to_contain_text(task_id)


def test_a_bad_file_shows_the_servers_reason(page: Page, tmp_path: Path, short_audio: Path):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n" * 100)
    page.set_input_files("#video", str(text))
    page.set_input_files("#audio", str(short_audio))
    page.click("#submit")
    expect(page.locator("#message")).to_contain_text("400: video_file: not a readable media file", timeout=30_000)
    expect(page.locator("#message")).to_have_class("error")


def test_speech_recorded_with_the_microphone_is_lip_synced(page: Page, face_video: Path):
    page.set_input_files("#video", str(face_video))
    page.select_option("#sync", "cut_off")
    page.click("#record")
    expect(page.locator("#record")).to_have_text("Stop recording")
    page.wait_for_timeout(1500)
    page.click("#record")
    expect(page.locator("#recording")).to_contain_text("recorded", timeout=10_000)
    page.click("#submit")
    # The browser's recording (webm/opus from MediaRecorder) is accepted by its bytes.
    expect(page.locator("#message")).to_have_text("Done.", timeout=120_000)


def test_the_api_key_lives_in_this_tab_only(page: Page, server: LiveServer):
    # Two tabs of one browser profile: they share localStorage, not sessionStorage.
    context = page.context.browser.new_context()
    first, second = context.new_page(), context.new_page()
    first.goto(server.url + "/")
    first.fill("#apikey", "tab-secret")
    first.click("#submit")  # no files: the page says so, and has taken the key
    expect(first.locator("#message")).to_contain_text("Choose a video")
    assert "tab-secret" not in first.evaluate("() => JSON.stringify(localStorage)")
    assert "tab-secret" in first.evaluate("() => JSON.stringify(sessionStorage)")
    # A reload of the same tab keeps it; the other tab never sees it.
    first.reload()
    expect(first.locator("#apikey")).to_have_value("tab-secret")
    second.goto(server.url + "/")
    expect(second.locator("#apikey")).to_have_value("")
    context.close()


def test_the_page_runs_under_its_content_security_policy(page: Page):
    # An injected inline script is refused by the policy: the promise ends with the violated
    # directive, or with the script's own answer if it ran.
    outcome = page.evaluate("""() => new Promise((done) => {
        window.probeDone = done;
        document.addEventListener('securitypolicyviolation', (event) => done(event.violatedDirective));
        const probe = document.createElement('script');
        probe.textContent = "window.probeDone('the inline script ran')";
        document.body.append(probe);
    })""")
    assert outcome.startswith("script-src")
    expect(page.locator("#recent")).to_be_attached()
