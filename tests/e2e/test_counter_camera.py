"""The counter's camera scan, with Chromium's fake camera showing a member's QR code.

Headless Chromium on Linux has no BarcodeDetector, so this exercises the
vendored jsQR path, the one most Android-less tablets use.
"""

import io

import pytest
import qrcode
from PIL import Image
from playwright.sync_api import expect

from members import services as shop_services
from members.tokens import member_qr_payload

from ..factories import PASSWORD, MemberFactory, UserFactory


def y4m_video(payload: str, path, frames: int = 10) -> None:
    """A short Y4M clip (the format Chromium's fake camera reads) of a QR code on white."""
    code = qrcode.make(payload, border=4).get_image().convert("L").resize((360, 360), Image.Resampling.NEAREST)
    frame = Image.new("L", (640, 480), 255)
    frame.paste(code, (140, 60))
    ycbcr = frame.convert("RGB").convert("YCbCr")
    y, cb, cr = ycbcr.split()
    half = (320, 240)
    planes = y.tobytes() + cb.resize(half).tobytes() + cr.resize(half).tobytes()
    data = io.BytesIO()
    data.write(b"YUV4MPEG2 W640 H480 F10:1 Ip A1:1 C420jpeg\n")
    for _ in range(frames):
        data.write(b"FRAME\n" + planes)
    path.write_bytes(data.getvalue())


@pytest.mark.django_db(transaction=True)
def test_staff_scan_a_member_card_with_the_camera(live_server, launch, tmp_path):
    owner = UserFactory(email="owner@camera.example")
    shop = shop_services.shop_create(owner=owner, name="Camera Café", slug="camera", language="en")
    member = MemberFactory(shop=shop, name="Noah Lin")
    video = tmp_path / "qr.y4m"
    y4m_video(member_qr_payload(member), video)

    browser = launch(
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    )
    context = browser.new_context(locale="en-US")
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(live_server.url + "/accounts/login/")
    page.locator("#id_login").fill(owner.email)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.goto(f"{live_server.url}/s/{shop.slug}/counter/")

    page.get_by_role("button", name="Camera").click()
    expect(page.get_by_role("heading", name="Noah Lin")).to_be_visible()
    expect(page.locator("#scan-video")).to_be_hidden()
    context.close()
