"""The web page at / in real headless Chromium (Debian's, driven by Playwright) against real uvicorn:
upload through the page, progress, the result playing, and the error shown for a bad file; the face
chosen by a click on the source, segments marked on its timeline, models without weights shown
disabled, the quality report, source and result in step, and the layout at phone width."""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.live_server import LiveServer

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("page")
    live = LiveServer({"UPLOAD_DIR": str(folder / "uploads")}, folder / "server.log").start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
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
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, server: LiveServer) -> Iterator[Page]:
    context = browser.new_context()  # each test its own storage
    page = context.new_page()
    page.goto(server.url + "/")
    yield page
    context.close()


def seek(page: Page, selector: str, seconds: float) -> None:
    page.eval_on_selector(
        selector,
        """(video, seconds) => new Promise((done) => {
            video.addEventListener('seeked', () => done(), {once: true});
            video.currentTime = seconds;
        })""",
        seconds,
    )


@dataclass
class MarkedJob:
    """One task sent from the page with a face clicked on and segments marked, run to its end."""

    page: Page
    fields: dict[str, str]
    expected_point: tuple[int, int]
    status: dict


@pytest.fixture(scope="module")
def marked_job(browser: Browser, server: LiveServer, face_video: Path, short_audio: Path) -> Iterator[MarkedJob]:
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    page.goto(server.url + "/")
    page.set_input_files("#video", str(face_video))
    page.set_input_files("#audio", str(short_audio))
    # The preview shows the chosen video before anything is sent.
    page.wait_for_function("() => document.getElementById('source').videoWidth > 0", timeout=30_000)
    size = page.eval_on_selector("#source", "v => [v.getBoundingClientRect().width, v.getBoundingClientRect().height]")
    width, height = page.eval_on_selector("#source", "v => [v.videoWidth, v.videoHeight]")
    at = (size[0] * 0.5, size[1] * 0.4)
    page.click("#source", position={"x": at[0], "y": at[1]})
    expected = (round(at[0] * width / size[0]), round(at[1] * height / size[1]))
    # Two segments marked on the source's timeline, the second removed again.
    for start, end in ((0.2, 0.6), (1.2, 1.6)):
        seek(page, "#source", start)
        page.click("#mark-start")
        seek(page, "#source", end)
        page.click("#mark-end")
    expect(page.locator("#segment-list li")).to_have_count(2)
    page.locator("#segment-list li").nth(1).get_by_role("button", name="Remove").click()
    expect(page.locator("#segment-list li")).to_have_count(1)
    page.select_option("#output-height", "360")
    page.select_option("#video-quality", "draft")
    # The form's plain fields as the page hands them to XMLHttpRequest.send (Chromium does not report
    # a multipart body that holds files to Playwright).
    page.evaluate("""() => { const send = XMLHttpRequest.prototype.send;
        XMLHttpRequest.prototype.send = function (body) {
            if (body instanceof FormData) {
                window.sentFields = Object.fromEntries([...body].filter(([, value]) => typeof value === 'string'));
            }
            return send.call(this, body);
        }; }""")
    page.click("#submit")
    expect(page.locator("#message")).to_have_text("Done.", timeout=120_000)
    task_id = page.inner_text("#task-id")
    status = httpx.get(f"{server.url}/status/{task_id}", timeout=10).json()
    yield MarkedJob(page, page.evaluate("() => window.sentFields"), expected, status)
    context.close()


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


def test_a_click_on_the_source_chooses_the_face_sent_in_video_pixels(marked_job: MarkedJob):
    page = marked_job.page
    x, y = (int(value) for value in marked_job.fields["face_point"].split(","))
    assert abs(x - marked_job.expected_point[0]) <= 1 and abs(y - marked_job.expected_point[1]) <= 1, marked_job.fields
    # The server took it: the task ran to its end with it.
    assert marked_job.status["status"] == "finished", marked_job.status
    expect(page.locator("#face-marker")).to_be_visible()
    expect(page.locator("#face-point-text")).to_contain_text(f"{x},{y}")
    page.click("#face-clear")
    expect(page.locator("#face-marker")).to_be_hidden()
    expect(page.locator("#face-clear")).to_be_hidden()


def test_segments_marked_on_the_timeline_are_sent_and_shown(marked_job: MarkedJob):
    sent = json.loads(marked_job.fields["segments"])
    assert sent == [{"start": 0.2, "end": 0.6}], sent
    segments = marked_job.status["segments"]
    assert [(s["start"], s["end"]) for s in segments] == [pytest.approx((0.2, 0.6), abs=0.041)], segments
    expect(marked_job.page.locator("#task-segments")).to_contain_text("Segments: 0.2")


def test_the_output_height_and_quality_chosen_are_sent_and_applied(marked_job: MarkedJob):
    assert (marked_job.fields["output_height"], marked_job.fields["video_quality"]) == ("360", "draft")
    status = marked_job.status
    assert (status["output_height"], status["video_quality"]) == (360, "draft")
    # The 512x512 source, scaled: the result the page plays is 360 px high.
    marked_job.page.wait_for_function("() => document.getElementById('result').videoHeight > 0")
    assert marked_job.page.eval_on_selector("#result", "v => [v.videoWidth, v.videoHeight]") == [360, 360]


def test_the_quality_report_is_shown_beside_the_result(marked_job: MarkedJob):
    quality = marked_job.status["quality"]
    page = marked_job.page
    expect(page.locator("#quality")).to_be_visible()
    expect(page.locator("#q-score")).to_have_text(f"{quality['sync_score']:.2f}")
    expect(page.locator("#q-offset")).to_have_text(f"{quality['offset_ms']:.0f} ms")
    expect(page.locator("#q-speech")).to_have_text(f"{quality['speech_s']:.1f} s")
    expect(page.locator("#q-warnings li")).to_have_count(len(quality["warnings"]))


def test_the_source_follows_the_result_in_step(marked_job: MarkedJob):
    page = marked_job.page
    page.eval_on_selector("#result", "video => video.pause()")
    seek(page, "#result", 1.0)
    page.wait_for_function("() => Math.abs(document.getElementById('source').currentTime - 1.0) < 0.1")
    assert page.eval_on_selector("#source", "video => video.paused")


def test_the_page_fits_a_phone_screen(marked_job: MarkedJob):
    # The busiest state: models marked, a face chosen, a segment listed, the quality report shown.
    page = marked_job.page
    page.set_viewport_size({"width": 375, "height": 800})
    try:
        expect(page.locator("#model option[value=model2]")).to_be_disabled()
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 375
        form_width = page.eval_on_selector("#job", "form => form.getBoundingClientRect().right")
        assert form_width <= 375
    finally:
        page.set_viewport_size({"width": 1280, "height": 720})


def test_a_model_without_weights_is_offered_disabled_with_its_reason(page: Page, server: LiveServer):
    models = {model["model_choice"]: model for model in httpx.get(f"{server.url}/models", timeout=10).json()}
    assert not models["model2"]["available"], models["model2"]
    reason = models["model2"]["reason"]
    option = page.locator("#model option[value=model2]")
    expect(option).to_be_disabled()
    expect(option).to_contain_text(reason)
    expect(option).to_have_attribute("title", reason)
    expect(option).to_contain_text(f"install with: {models['model2']['install_command']}")
    expect(page.locator("#model option[value=model1]")).to_be_enabled()
    expect(page.locator("#model")).to_have_value("model1")
