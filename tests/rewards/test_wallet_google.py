"""The card in Google Wallet: the card's "Save to Google Wallet" link issues the member a pass (or
keeps the one they hold) and sends them to Google's save page with the pass in a JWT signed by the
installation's service account; the pass shows the member's balances and its own barcode, never the
member code."""

import json
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.urls import reverse

from members.tokens import card_token
from rewards import google_wallet, services
from rewards.models import WalletPass
from rewards.services import wallet
from rewards.tasks import google_wallet_update

from ..conftest import key
from ..factories import MemberFactory, PointsRuleFactory, StampProgramFactory, TierFactory, VoucherFactory

ISSUER = "3388000000012345678"
EMAIL = "wallet@loyalty-test.iam.gserviceaccount.com"


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def key_file(path, private_key, grant_url="https://oauth2.googleapis.com/token"):
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "loyalty-test",
                "private_key_id": "key-1",
                "private_key": pem,
                "client_email": EMAIL,
                "token_uri": grant_url,
            }
        )
    )
    return path


@pytest.fixture
def google(settings, tmp_path, rsa_key):
    """Google Wallet configured with a fresh service account key."""
    settings.WALLET_GOOGLE_ISSUER_ID = ISSUER
    settings.WALLET_GOOGLE_SERVICE_ACCOUNT_FILE = str(key_file(tmp_path / "service-account.json", rsa_key))
    settings.SITE_URL = "https://loyalty.example.com"
    return rsa_key


def save_url(member) -> str:
    return reverse("rewards:card_wallet_google", args=[card_token(member)])


def decoded(response, rsa_key) -> dict:
    """The JWT of a save link, checked against the service account's public key."""
    assert response.status_code == 302
    location = urlparse(response["Location"])
    assert (location.scheme, location.netloc) == ("https", "pay.google.com")
    assert location.path.startswith("/gp/v/save/")
    token = location.path.removeprefix("/gp/v/save/")
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    return jwt.decode(token, rsa_key.public_key(), algorithms=["RS256"], audience="google")


def live_google_passes(member):
    return list(WalletPass.objects.filter(member=member, kind=WalletPass.Kind.GOOGLE, revoked_at__isnull=True))


def test_the_card_offers_google_wallet_only_when_it_is_configured(client, settings, world, member, tmp_path, rsa_key):
    card = reverse("rewards:card", args=[card_token(member)])
    settings.WALLET_GOOGLE_ISSUER_ID = ""
    assert "Save to Google Wallet" not in client.get(card).content.decode()
    settings.WALLET_GOOGLE_ISSUER_ID = ISSUER
    settings.WALLET_GOOGLE_SERVICE_ACCOUNT_FILE = str(key_file(tmp_path / "key.json", rsa_key))
    html = client.get(card).content.decode()
    # The card's token is signed with the time, so only the link's end is compared.
    assert "Save to Google Wallet" in html and "/wallet/google/" in html


def test_the_link_saves_a_signed_pass_with_the_members_balances(client, google, world, member, program):
    PointsRuleFactory(shop=world.shop, points_per_step=1, step_amount=10)
    services.purchase_record(member=member, amount=Decimal(250), staff=world.carol, idempotency_key=key())
    services.stamps_adjust(
        member=member, program=program, stamps=3, note="opening", staff=world.bob, idempotency_key=key()
    )
    gold = TierFactory(shop=world.shop, name="Gold")
    member.refresh_from_db()
    member.tier = gold
    member.save(update_fields=["tier"])
    VoucherFactory(shop=world.shop, member=member, title="Free scone")
    world.shop.brand_colour = "#123456"
    world.shop.save()

    claims = decoded(client.get(save_url(member)), google)

    held = WalletPass.objects.get(member=member, kind=WalletPass.Kind.GOOGLE)
    assert claims["iss"] == EMAIL and claims["aud"] == "google" and claims["typ"] == "savetowallet"
    assert claims["origins"] == ["https://loyalty.example.com"]
    [cls] = claims["payload"]["loyaltyClasses"]
    assert cls["id"] == f"{ISSUER}.shop-{world.shop.pk}"
    assert cls["issuerName"] == cls["programName"] == "Alice's Café"
    assert cls["hexBackgroundColor"] == "#123456"
    assert cls["reviewStatus"] == "UNDER_REVIEW"
    # No logo: the portal's icon, as an absolute URL.
    assert cls["programLogo"]["sourceUri"]["uri"].startswith("https://loyalty.example.com/")
    assert cls["programLogo"]["sourceUri"]["uri"].endswith(".png")
    [obj] = claims["payload"]["loyaltyObjects"]
    assert obj["id"] == f"{ISSUER}.{held.serial}" and obj["classId"] == cls["id"]
    assert obj["state"] == "ACTIVE" and obj["accountName"] == "Mia Chen"
    assert obj["loyaltyPoints"] == {"label": "Points", "balance": {"int": 25}} and member.points == 25
    assert obj["secondaryLoyaltyPoints"] == {"label": "Coffee card", "balance": {"int": 3}}
    assert obj["barcode"] == {"type": "QR_CODE", "value": held.barcode, "alternateText": held.barcode}
    assert held.barcode.startswith("W:")
    modules = {module["id"]: module for module in obj["textModulesData"]}
    assert modules["tier"]["body"] == "Gold" and modules["vouchers"]["body"] == "Free scone"
    # The member code is nowhere in the pass: only the pass's own (revocable) barcode.
    assert member.code not in json.dumps(claims)


def test_the_shops_logo_is_the_programs_logo(google, world, member):
    world.shop.logo = "logos/cafe.png"
    world.shop.save()
    held = wallet.pass_issue(member=member, kind=WalletPass.Kind.GOOGLE)
    cls = google_wallet.loyalty_class(held.member.shop)
    assert cls["programLogo"]["sourceUri"]["uri"] == "https://loyalty.example.com" + world.shop.logo.url


def test_a_second_click_keeps_the_pass_it_saved(client, google, world, member):
    first = decoded(client.get(save_url(member)), google)
    second = decoded(client.get(save_url(member)), google)
    [held] = live_google_passes(member)
    assert first["payload"]["loyaltyObjects"][0]["id"] == second["payload"]["loyaltyObjects"][0]["id"]
    assert second["payload"]["loyaltyObjects"][0]["barcode"]["value"] == held.barcode


def test_after_a_revoke_the_link_issues_a_new_pass(client, google, world, member):
    decoded(client.get(save_url(member)), google)
    [old] = live_google_passes(member)
    wallet.pass_revoke(member=member, wallet_pass=old)
    claims = decoded(client.get(save_url(member)), google)
    [new] = live_google_passes(member)
    assert new.pk != old.pk and claims["payload"]["loyaltyObjects"][0]["barcode"]["value"] == new.barcode


def test_an_apple_pass_is_not_reused_for_google(client, google, world, member):
    apple = wallet.pass_issue(member=member, kind=WalletPass.Kind.APPLE)
    claims = decoded(client.get(save_url(member)), google)
    assert claims["payload"]["loyaltyObjects"][0]["barcode"]["value"] != apple.barcode
    apple.refresh_from_db()
    assert apple.revoked_at is None


def test_not_configured_is_a_404(client, settings, world, member):
    settings.WALLET_GOOGLE_ISSUER_ID = ""
    assert client.get(save_url(member)).status_code == 404
    assert not WalletPass.objects.exists()


def test_a_bad_token_is_a_404(client, google, world, member):
    url = reverse("rewards:card_wallet_google", args=[card_token(member) + "x"])
    assert client.get(url).status_code == 404
    assert not WalletPass.objects.exists()


def test_only_get(client, google, world, member):
    assert client.post(save_url(member)).status_code == 405


def counter_answer(client, shop, barcode) -> str:
    page = client.get(reverse("rewards:counter", args=[shop.slug]), {"q": barcode}, HTTP_HX_REQUEST="true")
    return page.content.decode()


def test_a_revoked_google_pass_finds_nobody_at_the_counter(client, google, world, member):
    claims = decoded(client.get(save_url(member)), google)
    barcode = claims["payload"]["loyaltyObjects"][0]["barcode"]["value"]
    carol = world.client(world.carol)
    assert "Mia Chen" in counter_answer(carol, world.shop, barcode)
    [held] = live_google_passes(member)
    wallet.pass_revoke(member=member, wallet_pass=held)
    html = counter_answer(carol, world.shop, barcode)
    assert "Mia Chen" not in html and "replaced or revoked" in html


def test_another_shops_staff_find_nobody_with_a_live_pass(client, google, world, member):
    claims = decoded(client.get(save_url(member)), google)
    barcode = claims["payload"]["loyaltyObjects"][0]["barcode"]["value"]
    # Dave's bakery has a member of the same name: still nobody is found.
    MemberFactory(shop=world.other_shop, name="Mia Chen")
    html = counter_answer(world.client(world.dave), world.other_shop, barcode)
    assert "Mia Chen" not in html and "replaced or revoked" in html


def test_a_shop_without_cards_shows_points_only(google, world, member):
    held = wallet.pass_issue(member=member, kind=WalletPass.Kind.GOOGLE)
    obj = google_wallet.loyalty_object(held)
    assert "secondaryLoyaltyPoints" not in obj and "textModulesData" not in obj
    assert obj["loyaltyPoints"]["balance"] == {"int": 0}


def test_every_card_is_listed_when_there_are_several(google, world, member, program):
    StampProgramFactory(shop=world.shop, name="Tea card", stamps_needed=8)
    held = wallet.pass_issue(member=member, kind=WalletPass.Kind.GOOGLE)
    obj = google_wallet.loyalty_object(held)
    body = {module["id"]: module for module in obj["textModulesData"]}["cards"]["body"]
    assert "Coffee card: 0/10" in body and "Tea card: 0/8" in body


class FakeGoogle(BaseHTTPRequestHandler):
    """Google's token endpoint and the Wallet REST API, on 127.0.0.1: the token is granted for an
    assertion signed by the service account, and a PATCH is taken only with that token."""

    public_key = None
    saved: set = set()
    patches: list = []

    def log_message(self, *args):
        pass

    def _reply(self, status, body: dict):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers["Content-Length"]))

    def do_POST(self):
        form = parse_qs(self._body().decode())
        assert self.path == "/token"
        assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
        url = f"http://127.0.0.1:{self.server.server_port}/token"
        claims = jwt.decode(form["assertion"][0], self.public_key, algorithms=["RS256"], audience=url)
        assert claims["iss"] == EMAIL and claims["scope"] == google_wallet.SCOPE
        self._reply(200, {"access_token": "granted-token", "token_type": "Bearer", "expires_in": 3600})

    def do_PATCH(self):
        body = json.loads(self._body())
        if self.headers["Authorization"] != "Bearer granted-token":
            return self._reply(401, {"error": "unauthenticated"})
        object_id = self.path.removeprefix("/walletobjects/v1/loyaltyObject/")
        if object_id not in self.saved:
            return self._reply(404, {"error": "not found"})
        self.patches.append((object_id, body))
        return self._reply(200, body)


@pytest.fixture
def fake_google(settings, tmp_path, rsa_key):
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeGoogle)
    FakeGoogle.public_key, FakeGoogle.saved, FakeGoogle.patches = rsa_key.public_key(), set(), []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    settings.WALLET_GOOGLE_ISSUER_ID = ISSUER
    settings.WALLET_GOOGLE_SERVICE_ACCOUNT_FILE = str(key_file(tmp_path / "sa.json", rsa_key, f"{base}/token"))
    settings.WALLET_GOOGLE_API_URL = base
    yield FakeGoogle
    server.shutdown()
    server.server_close()
    thread.join()


def test_the_worker_brings_a_saved_pass_up_to_date(fake_google, world, member, program):
    held = wallet.pass_issue(member=member, kind=WalletPass.Kind.GOOGLE)
    fake_google.saved.add(google_wallet.object_id(held))
    PointsRuleFactory(shop=world.shop, points_per_step=1, step_amount=10)
    services.purchase_record(member=member, amount=Decimal(120), staff=world.carol, idempotency_key=key())

    assert google_wallet_update(held.pk) == 200

    [(object_id, body)] = fake_google.patches
    assert object_id == f"{ISSUER}.{held.serial}"
    assert body["loyaltyPoints"]["balance"] == {"int": 12} and body["state"] == "ACTIVE"
    assert body["barcode"]["value"] == held.barcode


def test_a_revoked_pass_is_made_inactive_in_the_wallet(fake_google, world, member):
    held = wallet.pass_issue(member=member, kind=WalletPass.Kind.GOOGLE)
    fake_google.saved.add(google_wallet.object_id(held))
    wallet.pass_revoke(member=member, wallet_pass=held)
    assert google_wallet_update(held.pk) == 200
    assert fake_google.patches[0][1]["state"] == "INACTIVE"


def test_a_pass_never_saved_or_not_google_is_left_alone(fake_google, world, member):
    unsaved = wallet.pass_issue(member=member, kind=WalletPass.Kind.GOOGLE)
    apple = wallet.pass_issue(member=member, kind=WalletPass.Kind.APPLE)
    assert google_wallet_update(unsaved.pk) == 404
    assert google_wallet_update(apple.pk) == 0
    assert fake_google.patches == []


def test_no_update_without_google_configured(settings, world, member):
    held = wallet.pass_issue(member=member, kind=WalletPass.Kind.GOOGLE)
    settings.WALLET_GOOGLE_ISSUER_ID = ""
    assert google_wallet_update(held.pk) == 0


def test_a_visit_and_a_revoke_reach_the_saved_pass_through_the_worker(
    fake_google, world, member, program, django_capture_on_commit_callbacks
):
    held = wallet.pass_issue(member=member, kind=WalletPass.Kind.GOOGLE)
    fake_google.saved.add(google_wallet.object_id(held))
    with django_capture_on_commit_callbacks(execute=True):
        services.stamp_add(member=member, program=program, count=1, staff=world.carol, idempotency_key=key())
    [(_object_id, body)] = fake_google.patches
    assert body["state"] == "ACTIVE"
    with django_capture_on_commit_callbacks(execute=True):
        wallet.pass_revoke(member=member, wallet_pass=held)
    assert fake_google.patches[-1][1]["state"] == "INACTIVE"
