"""The card in Apple Wallet: a signed store-card pass Apple's wallet accepts (the zip, its manifest,
a detached PKCS #7 signature openssl verifies up to the CA), and Apple's PassKit web service the
wallet keeps it up to date through. Certificates are made for the test: a CA, a WWDR-like
intermediate and a pass certificate under it."""

import datetime
import hashlib
import io
import json
import subprocess
import zipfile

import pytest
from django.urls import reverse
from django.utils.http import http_date

from members.tokens import card_token
from rewards import passkit, services
from rewards.models import WalletDevice, WalletPass
from rewards.services import wallet

from ..conftest import key
from ..factories import MemberFactory
from .apple_wallet import PASS_TYPE, configure, make_chain


@pytest.fixture
def apple(settings, tmp_path):
    """Apple Wallet configured with a throwaway chain: CA -> WWDR-like intermediate -> pass certificate."""
    configure(settings, make_chain(tmp_path))
    return tmp_path


def download(client, member):
    return client.get(reverse("rewards:card_wallet_apple", args=[card_token(member)]))


def unzip(response) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def verify(folder, files: dict[str, bytes]) -> subprocess.CompletedProcess:
    (folder / "signature").write_bytes(files["signature"])
    (folder / "manifest.json").write_bytes(files["manifest.json"])
    command = [
        "openssl", "smime", "-verify", "-binary", "-inform", "DER", "-in", str(folder / "signature"),
        "-content", str(folder / "manifest.json"), "-CAfile", str(folder / "ca.pem"), "-purpose", "any",
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, check=False)


def test_the_pass_is_a_signed_bundle_apple_accepts(apple, client, member, program):
    response = download(client, member)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.apple.pkpass"
    files = unzip(response)
    assert {"pass.json", "manifest.json", "signature", "icon.png", "icon@2x.png", "logo.png"} <= set(files)
    manifest = json.loads(files["manifest.json"])
    assert set(manifest) == set(files) - {"manifest.json", "signature"}
    for name, digest in manifest.items():
        assert hashlib.sha1(files[name]).hexdigest() == digest  # noqa: S324 - Apple's manifest format
    verified = verify(apple, files)
    assert verified.returncode == 0, verified.stderr.decode()
    tampered = {**files, "manifest.json": files["manifest.json"].replace(b"{", b"{ ", 1)}
    assert verify(apple, tampered).returncode != 0


def test_pass_json_has_apples_keys_and_the_wallet_barcode_never_the_member_code(apple, client, world, program):
    member = MemberFactory(shop=world.shop, name="Mia Chen", points=0)
    services.stamp_add(member=member, program=program, count=3, staff=world.carol, idempotency_key=key())
    document = json.loads(unzip(download(client, member))["pass.json"])
    for name in ("formatVersion", "passTypeIdentifier", "serialNumber", "teamIdentifier", "authenticationToken",
                 "webServiceURL", "organizationName", "description", "storeCard", "barcodes"):  # fmt: skip
        assert name in document, name
    held = WalletPass.objects.get(member=member, revoked_at__isnull=True)
    assert document["formatVersion"] == 1
    assert document["passTypeIdentifier"] == PASS_TYPE and document["teamIdentifier"] == "TEAM123456"
    assert document["serialNumber"] == held.serial and document["authenticationToken"] == held.auth_token
    assert document["webServiceURL"] == "https://loyalty.example.com/passkit/"
    assert document["organizationName"] == "Alice's Café"
    assert document["backgroundColor"].startswith("rgb(")
    barcode = {"format": "PKBarcodeFormatQR", "message": held.barcode, "messageEncoding": "iso-8859-1"}
    assert document["barcodes"] == [{**barcode, "altText": "Wallet pass"}]
    assert member.code not in json.dumps(document)
    # No points rule: the coffee card's stamps come first.
    assert document["storeCard"]["primaryFields"][0]["value"] == "3/10"


def test_pass_json_speaks_the_members_language(apple, client, world, program):
    member = MemberFactory(shop=world.shop, name="Mia Chen", language="zh-hant")
    document = json.loads(unzip(download(client, member))["pass.json"])
    assert document["description"] == "Alice's Café 會員卡"


def test_the_colours_read_on_the_shops_brand_colour():
    assert passkit.readable_on(passkit.rgb("#6F4E37")) == (255, 255, 255)
    assert passkit.readable_on(passkit.rgb("#F5E6A8")) == (17, 17, 17)
    assert passkit.css_rgb((1, 2, 3)) == "rgb(1, 2, 3)"


def test_the_card_offers_apple_wallet_only_when_configured(client, member, settings, tmp_path):
    page = client.get(reverse("rewards:card", args=[card_token(member)]))
    assert "Add to Apple Wallet" not in page.content.decode()
    assert download(client, member).status_code == 404


def test_the_card_offers_apple_wallet_when_configured(apple, client, member):
    page = client.get(reverse("rewards:card", args=[card_token(member)]))
    html = page.content.decode()
    assert "Add to Apple Wallet" in html
    assert reverse("rewards:card_wallet_apple", args=[card_token(member)]) in html


def test_a_bad_card_token_finds_no_pass(apple, client):
    assert client.get(reverse("rewards:card_wallet_apple", args=["not-a-token"])).status_code == 404


def test_downloading_twice_keeps_one_live_pass(apple, client, member):
    first = json.loads(unzip(download(client, member))["pass.json"])
    second = json.loads(unzip(download(client, member))["pass.json"])
    assert first["serialNumber"] == second["serialNumber"]
    assert WalletPass.objects.filter(member=member).count() == 1
    assert WalletPass.objects.get(member=member).revoked_at is None


# The PassKit web service.


@pytest.fixture
def held(apple, member):
    return wallet.pass_issue(member=member, kind=WalletPass.Kind.APPLE)


def auth(held) -> dict:
    return {"HTTP_AUTHORIZATION": f"ApplePass {held.auth_token}"}


def registration(held, device="device-1"):
    return f"/passkit/v1/devices/{device}/registrations/{PASS_TYPE}/{held.serial}"


def register(client, held, device="device-1", token=None):
    headers = {"HTTP_AUTHORIZATION": f"ApplePass {token}"} if token else auth(held)
    return client.post(registration(held, device), {"pushToken": "push-1"}, content_type="application/json", **headers)


def test_a_device_registers_once_and_a_bad_token_is_refused(client, held):
    assert register(client, held).status_code == 201
    assert register(client, held).status_code == 200
    assert register(client, held, token="wrong").status_code == 401
    assert client.post(registration(held), {"pushToken": "x"}, content_type="application/json").status_code == 401
    assert WalletDevice.objects.get().push_token == "push-1"
    assert client.delete(registration(held), **auth(held)).status_code == 200
    assert not WalletDevice.objects.exists()


def test_an_unknown_pass_type_or_serial_is_not_found(client, held):
    url = f"/passkit/v1/devices/d/registrations/pass.other/{held.serial}"
    assert client.post(url, {"pushToken": "p"}, content_type="application/json", **auth(held)).status_code == 404
    assert client.get(f"/passkit/v1/passes/{PASS_TYPE}/nope", **auth(held)).status_code == 404


def test_the_device_learns_which_passes_changed_after_a_stamp(
    client, world, member, held, program, django_capture_on_commit_callbacks
):
    register(client, held)
    serials = f"/passkit/v1/devices/device-1/registrations/{PASS_TYPE}"
    first = client.get(serials)
    assert first.status_code == 200 and first.json()["serialNumbers"] == [held.serial]
    tag = first.json()["lastUpdated"]
    assert isinstance(tag, str)
    assert client.get(serials, {"passesUpdatedSince": tag}).status_code == 204
    with django_capture_on_commit_callbacks(execute=True):
        services.stamp_add(member=member, program=program, count=1, staff=world.carol, idempotency_key=key())
    changed = client.get(serials, {"passesUpdatedSince": tag})
    assert changed.status_code == 200 and changed.json()["serialNumbers"] == [held.serial]
    assert changed.json()["lastUpdated"] > tag
    assert client.get("/passkit/v1/devices/other/registrations/" + PASS_TYPE).status_code == 204


def test_no_wallet_no_work_after_an_action(world, member, program, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        services.stamp_add(member=member, program=program, count=1, staff=world.carol, idempotency_key=key())
    assert callbacks == []  # no wallet configured: not a query more


def test_an_action_touches_the_passes_once_after_it_commits(
    apple, world, member, held, program, django_capture_on_commit_callbacks, django_assert_num_queries
):
    program.max_stamps_per_visit = 10
    program.save()
    with django_capture_on_commit_callbacks() as callbacks:
        # A full card: the stamps and the card's completion are rows of one action.
        services.stamp_add(member=member, program=program, count=10, staff=world.carol, idempotency_key=key())
    assert len(callbacks) == 1
    before = WalletPass.objects.get(pk=held.pk).updated_at
    # The passes' UPDATE, and the devices to push to (none registered: nothing to insert).
    with django_assert_num_queries(2):
        callbacks[0]()
    assert WalletPass.objects.get(pk=held.pk).updated_at > before


def test_the_latest_pass_with_last_modified_and_not_modified(client, held):
    url = f"/passkit/v1/passes/{PASS_TYPE}/{held.serial}"
    response = client.get(url, **auth(held))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.apple.pkpass"
    assert response["Last-Modified"] == http_date(held.updated_at.timestamp())
    assert client.get(url, HTTP_IF_MODIFIED_SINCE=response["Last-Modified"], **auth(held)).status_code == 304
    older = http_date((held.updated_at - datetime.timedelta(minutes=5)).timestamp())
    assert client.get(url, HTTP_IF_MODIFIED_SINCE=older, **auth(held)).status_code == 200
    assert client.get(url, HTTP_AUTHORIZATION="ApplePass wrong").status_code == 401


def test_a_revoked_pass_comes_back_void(client, member, held):
    wallet.pass_revoke(member=member, wallet_pass=held)
    response = client.get(f"/passkit/v1/passes/{PASS_TYPE}/{held.serial}", **auth(held))
    assert response.status_code == 200
    assert json.loads(unzip(response)["pass.json"])["voided"] is True


def test_the_log_is_accepted(client, apple, caplog):
    with caplog.at_level("INFO", logger="rewards.views.wallet"):
        response = client.post(
            "/passkit/v1/log",
            {"logs": ["Web service error for 0123456789abcdef0123: bad"]},
            content_type="application/json",
        )
    assert response.status_code == 200
    assert "0123456789abcdef0123" not in caplog.text and "bad" in caplog.text


def test_the_web_service_is_not_there_without_apple_wallet(client, member):
    assert client.get(f"/passkit/v1/devices/d/registrations/{PASS_TYPE}").status_code == 404


# The pass at the counter.


def scan(client, shop, barcode):
    return client.get(reverse("rewards:counter", args=[shop.slug]), {"q": barcode}, HTTP_HX_REQUEST="true")


def test_a_live_pass_finds_the_member_and_a_revoked_one_nobody(world, member, held):
    carol = world.client(world.carol)
    html = scan(carol, world.shop, held.barcode).content.decode()
    assert "Mia Chen" in html and "Wallet pass" in html
    wallet.pass_revoke(member=member, wallet_pass=held)
    html = scan(carol, world.shop, held.barcode).content.decode()
    assert "Mia Chen" not in html and "replaced or revoked" in html


def test_staff_of_another_shop_find_nobody_by_the_pass(world, member, held):
    dave = world.client(world.dave)
    html = scan(dave, world.other_shop, held.barcode).content.decode()
    assert "Mia Chen" not in html


def test_only_live_passes_are_touched(apple, world, member):
    old = wallet.pass_issue(member=member, kind=WalletPass.Kind.APPLE)
    wallet.pass_issue(member=member, kind=WalletPass.Kind.APPLE)
    revoked_at = WalletPass.objects.get(pk=old.pk).updated_at
    assert wallet.passes_changed(member.pk) == 1
    assert WalletPass.objects.get(pk=old.pk).updated_at == revoked_at
