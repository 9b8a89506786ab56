"""Scan station, camera: a seal label's QR code read through the phone-camera path.

Chromium's fake capture device plays a generated YUV4MPEG2 file as the camera: every
frame is the QR code of a genuine seal label of the live ledger (the payload the label
service signs for an applied seal, a signed ``…/S/<SEAL>/<SIGNATURE>`` URL, encoded at
error-correction level Q). The page reads it with ``BarcodeDetector`` where the browser
has one, else with the vendored jsQR (headless Linux Chromium usually has no
``BarcodeDetector``), and must show the same result as when the seal id is typed by a
keyboard-wedge scanner. ``scanner.js`` names the decoder in ``data-decoder`` on the
camera's video element.

The fake camera needs its own Chromium (launch flags), started from the session's
Playwright; contexts are signed in as ``page_for`` does it, with the camera permission.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import qrcode
from qrcode.constants import ERROR_CORRECT_Q

from app import queries
from app.api.security import SESSION_COOKIE
from app.services import labels
from tests.web.conftest import _CSP_LISTENER, CHROMIUM, LiveServer, browser_unavailable
from tests.web.field_helpers import WAREHOUSE, in_transit_to, scan, sealed_connector, wait_ready

pytestmark = pytest.mark.xdist_group("browser")

WIDTH, HEIGHT, FRAMES = 640, 480, 3
QUIET_ZONE = 4  # modules of white around the code (ISO/IEC 18004 asks for 4)
BLACK, WHITE, NEUTRAL = 16, 235, 128  # BT.601 studio range luma; chroma 128 = grey
DECODERS = ("barcode-detector", "jsqr")


def qr_y4m(text: str, path: Path) -> int:
    """Write a YUV4MPEG2 (4:2:0) clip whose frames all show ``text`` as a QR code; its module size."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_Q, box_size=1, border=QUIET_ZONE)
    code.add_data(text)
    code.make(fit=True)
    matrix = code.get_matrix()  # quiet zone included
    size = len(matrix)
    module = min(WIDTH, HEIGHT) // size
    assert module >= 4, f"a {size}-module code does not fit {WIDTH}x{HEIGHT} with large modules"
    left, top = (WIDTH - size * module) // 2, (HEIGHT - size * module) // 2
    blank = bytes([WHITE]) * WIDTH
    lines = []
    for row in matrix:
        pixels = b"".join(bytes([BLACK if dark else WHITE]) * module for dark in row)
        lines.append(blank[:left] + pixels + blank[left + len(pixels) :])
    luma = bytearray()
    for y in range(HEIGHT):
        inside = top <= y < top + size * module
        luma += lines[(y - top) // module] if inside else blank
    chroma = bytes([NEUTRAL]) * ((WIDTH // 2) * (HEIGHT // 2))
    frame = b"FRAME\n" + bytes(luma) + chroma + chroma
    header = f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F10:1 Ip A1:1 C420jpeg\n".encode("ascii")
    path.write_bytes(header + frame * FRAMES)
    return module


@dataclass(frozen=True)
class Camera:
    browser: Any
    subject: str
    seal: str
    payload: str


@pytest.fixture(scope="module")
def camera(browser: Any, live: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Camera]:
    """A connector on its way to the warehouse, its first seal's label on a fake camera."""
    subject, seals = sealed_connector(live)
    in_transit_to(live, subject, WAREHOUSE, "LS-CAM-1")
    [label], _ = labels.seal_labels(live.ctx, [seals[0]])
    clip = tmp_path_factory.mktemp("camera") / "qr.y4m"
    qr_y4m(label.payload, clip)
    # A second Chromium from the session's Playwright (a second sync_playwright() cannot
    # run in the same thread): the fake capture device is a launch option.
    try:
        chromium = browser.browser_type.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-video-capture={clip}",
            ],
        )
    except Exception as exc:
        browser_unavailable(
            f"Chromium with the fake capture flags did not start: {str(exc).splitlines()[0]}",
            "the camera test",
        )
    try:
        yield Camera(chromium, subject, seals[0], label.payload)
    finally:
        chromium.close()


def camera_page(camera: Camera, live: LiveServer, role: str = "warehouse", lang: str = "de") -> Any:
    """A signed-in page of the camera browser (as ``page_for`` makes them), camera allowed."""
    context = camera.browser.new_context(
        base_url=live.url,
        locale="de-DE" if lang == "de" else "en-GB",
        viewport={"width": 1280, "height": 900},
        permissions=["camera"],
    )
    context.add_cookies(
        [
            {"name": "kcl_lang", "value": lang, "url": live.url},
            {"name": SESSION_COOKIE, "value": live.session_cookie(role), "url": live.url, "httpOnly": True},
        ]
    )
    context.add_init_script(_CSP_LISTENER)
    page = context.new_page()
    errors: list[str] = []
    page._kcl_errors = errors
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
    return page


def _is_scan(response: Any) -> bool:
    return bool(response.url.endswith("/api/v1/scan") and response.request.method == "POST")


def _why_no_camera(page: Any) -> str:
    """What getUserMedia says in this browser (for the skip reason)."""
    return str(
        page.evaluate(
            """async () => {
              try {
                const stream = await navigator.mediaDevices.getUserMedia({ video: true });
                const settings = stream.getVideoTracks()[0].getSettings();
                stream.getTracks().forEach((track) => track.stop());
                return `getUserMedia works (${settings.width}x${settings.height}) but the page got no camera`;
              } catch (error) {
                return `getUserMedia failed: ${error.name}: ${error.message}`;
              }
            }"""
        )
    )


def test_camera_reads_a_seal_label_like_the_wedge_does(
    camera: Camera, live: LiveServer, console_errors: Any, screenshot: Any, record_property: Any
) -> None:
    page = camera_page(camera, live)
    try:
        page.goto("/scan")
        wait_ready(page, "scan-station")
        assert page.get_by_test_id("mode-goods-in").is_checked()
        toggle = page.locator("#camera-toggle")
        video = page.locator("#camera-video")
        feedback = page.get_by_test_id("feedback")

        # The camera, through the page's button: the label's QR code is read and looked up.
        with page.expect_response(_is_scan, timeout=20_000) as scanned:
            toggle.click()
            # No camera at all shows the page's error at once: no scan will come.
            page.wait_for_function(
                """() => document.getElementById('camera-video').dataset.decoder
                  || document.getElementById('feedback').classList.contains('bad')""",
                timeout=15_000,
            )
            if video.get_attribute("data-decoder") is None:
                shown = feedback.inner_text()
                browser_unavailable(
                    f"Chromium did not feed the fake camera ({shown!r}): {_why_no_camera(page)}",
                    "the camera test",
                )
        assert scanned.value.request.post_data_json == {"input": camera.payload}
        found = scanned.value.json()
        assert (found["kind"], found["id"]) == ("seal", camera.seal)
        assert found["label"]["ok"] is True, found["label"]  # the signature verified: a genuine label
        feedback.filter(has_text=camera.seal).wait_for(timeout=10_000)
        assert toggle.get_attribute("aria-pressed") == "true"
        assert page.locator("#camera-box").is_visible()

        decoder = video.get_attribute("data-decoder")
        assert decoder in DECODERS
        record_property("decoder", decoder)
        print(f"camera decoder: {decoder}")
        by_camera = {
            "feedback": feedback.inner_text(),
            "ok": "ok" in (feedback.get_attribute("class") or ""),
            "connector": page.locator("#gi-connector").inner_text(),
            "observed": page.locator("#gi-observed li").all_inner_texts(),
        }
        assert by_camera["feedback"] == f"Siegel {camera.seal} stimmt"
        screenshot(page, "scan-camera-seal-label-de")

        # The camera off, the same seal by keyboard wedge: the page shows the same result.
        toggle.click()
        page.wait_for_function("() => !document.getElementById('camera-video').srcObject")
        assert toggle.get_attribute("aria-pressed") == "false"
        page.locator("#gi-clear").click()
        page.evaluate("document.getElementById('feedback').textContent = ''")
        page.get_by_test_id("scan-input").focus()
        scan(page, camera.seal, expect=camera.seal)
        by_wedge = {
            "feedback": feedback.inner_text(),
            "ok": "ok" in (feedback.get_attribute("class") or ""),
            "connector": page.locator("#gi-connector").inner_text(),
            "observed": page.locator("#gi-observed li").all_inner_texts(),
        }
        assert by_camera == by_wedge
        assert by_camera["ok"]
        assert by_camera["connector"] == camera.subject
        assert by_camera["observed"] == [camera.seal]
        assert camera.seal in queries.connector(live.ctx.engine, camera.subject).seals
        assert console_errors(page) == []
    finally:
        page.context.close()
