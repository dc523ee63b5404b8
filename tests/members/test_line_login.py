"""Joining and signing in with LINE (LINE Login through allauth's LINE provider), driven through the
real doors: the join page's button posts to allauth's LINE login, which redirects to LINE's authorize
page (we take its ``state``), LINE sends the browser back to the callback with a code, allauth
exchanges it and verifies the id_token at a fake LINE on 127.0.0.1, then our join-with-LINE page finds
or makes the membership and shows the card. Nothing reaches the network."""

import base64
import hashlib
import json
import re
import secrets
import threading
import time
from html import unescape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from allauth.socialaccount.providers.line.views import LineOAuth2Adapter
from django.core import mail
from django.db import connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from members import services
from members.line_login import LineIdentity, member_for_line
from members.models import LineFollower, Member, User
from members.tokens import referral_token

from ..factories import MemberFactory, ShopFactory, UserFactory
from ..test_settings import PRODUCTION, run_manage

CHANNEL_ID = "2000000001"
CHANNEL_SECRET = "line-login-secret-for-tests-only"


class FakeLineLogin:
    """LINE Login's token, id_token verification and profile endpoints, as allauth's LINE provider
    calls them: the token endpoint takes the code (with the channel's id and secret, and the PKCE
    verifier of the challenge the authorize URL carried) and answers an access token and an
    id_token; the verify endpoint takes the id_token with the channel id and answers its claims."""

    def __init__(self):
        self.codes: dict[str, dict] = {}  # code -> {"profile": ..., "challenge": ...}
        self.id_tokens: dict[str, dict] = {}
        self.access_tokens: dict[str, dict] = {}
        self.requests: list[tuple[str, dict]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, status: int, payload: dict):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                fake.requests.append((self.path, form))
                if self.path == "/oauth2/v2.1/token":
                    self._answer(*fake._token(form))
                elif self.path == "/oauth2/v2.1/verify":
                    self._answer(*fake._verify(form))
                else:
                    self._answer(404, {"error": "not_found"})

            def do_GET(self):
                fake.requests.append((self.path, {}))
                bearer = self.headers.get("Authorization", "").removeprefix("Bearer ")
                if self.path == "/v2/profile" and bearer in fake.access_tokens:
                    profile = fake.access_tokens[bearer]
                    self._answer(200, {"userId": profile["sub"], "displayName": profile["name"]})
                else:
                    self._answer(401, {"message": "invalid token"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def issue(self, profile: dict, challenge: str, *, fail: bool = False) -> str:
        """The code LINE would send the browser back with, after the customer agreed."""
        code = secrets.token_urlsafe(12)
        self.codes[code] = {"profile": profile, "challenge": challenge, "fail": fail}
        return code

    def _token(self, form: dict) -> tuple[int, dict]:
        grant = self.codes.pop(form.get("code", ""), None)
        if form.get("client_id") != CHANNEL_ID or form.get("client_secret") != CHANNEL_SECRET:
            return 401, {"error": "invalid_client"}
        if grant is None or grant["fail"]:
            return 400, {"error": "invalid_grant", "error_description": "invalid authorization code"}
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if challenge != grant["challenge"]:
            return 400, {"error": "invalid_grant", "error_description": "code_verifier does not match"}
        id_token, access_token = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        now = int(time.time())
        claims = {"iss": "https://access.line.me", "aud": CHANNEL_ID, "iat": now, "exp": now + 3600, "amr": ["pwd"]}
        self.id_tokens[id_token] = {**claims, **grant["profile"]}
        self.access_tokens[access_token] = grant["profile"]
        scope = "profile openid email" if "email" in grant["profile"] else "profile openid"
        return 200, {
            "access_token": access_token,
            "expires_in": 2592000,
            "id_token": id_token,
            "refresh_token": secrets.token_urlsafe(12),
            "scope": scope,
            "token_type": "Bearer",
        }

    def _verify(self, form: dict) -> tuple[int, dict]:
        claims = self.id_tokens.get(form.get("id_token", ""))
        if claims is None or form.get("client_id") != claims["aud"]:
            return 400, {"error": "invalid_request", "error_description": "Invalid IdToken."}
        return 200, claims

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake(monkeypatch):
    server = FakeLineLogin()
    # The provider's endpoints are class attributes of its OAuth2 adapter.
    monkeypatch.setattr(LineOAuth2Adapter, "authorize_url", server.url + "/oauth2/v2.1/authorize")
    monkeypatch.setattr(LineOAuth2Adapter, "access_token_url", server.url + "/oauth2/v2.1/token")
    monkeypatch.setattr(LineOAuth2Adapter, "id_token_url", server.url + "/oauth2/v2.1/verify")
    monkeypatch.setattr(LineOAuth2Adapter, "profile_url", server.url + "/v2/profile")
    # A proxy in the environment must not carry the requests to 127.0.0.1 away.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    yield server
    server.close()


@pytest.fixture
def line_on(settings, fake):
    """The installation has a LINE Login channel (as settings.py builds it from the environment)."""
    settings.LINE_LOGIN_CHANNEL_ID = CHANNEL_ID
    settings.LINE_LOGIN_CHANNEL_SECRET = CHANNEL_SECRET
    line = {**settings.SOCIALACCOUNT_PROVIDERS["line"], "APPS": [{"client_id": CHANNEL_ID, "secret": CHANNEL_SECRET}]}
    settings.SOCIALACCOUNT_PROVIDERS = {**settings.SOCIALACCOUNT_PROVIDERS, "line": line}
    return fake


def customer() -> Client:
    return Client(HTTP_ACCEPT_LANGUAGE="en")


def profile(sub="U4af4980629", name="Lin Mei", email: str | None = "lin.mei@example.com") -> dict:
    data = {"sub": sub, "name": name, "picture": "https://profile.line-scdn.net/x"}
    if email:
        data["email"] = email
    return data


def line_button(client: Client, shop) -> str:
    """The join page's "Join with LINE" form: where it posts."""
    page = client.get(reverse("members:join", args=[shop.slug]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Join with LINE" in html
    return unescape(re.search(r'<form method="post" action="([^"]+)" class="line-login"', html).group(1))


def to_line(client: Client, shop) -> dict:
    """Press "Join with LINE": allauth sends the browser to LINE's authorize page."""
    response = client.post(line_button(client, shop))
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path == "/oauth2/v2.1/authorize"
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert query["client_id"] == CHANNEL_ID
    assert set(query["scope"].split()) == {"profile", "openid", "email"}
    assert query["redirect_uri"].endswith("/accounts/line/login/callback/")
    return query


def back_from_line(client: Client, fake, query: dict, who: dict, *, fail=False, state=None):
    """LINE sends the browser back to the callback with a code and the state it was given."""
    code = fake.issue(who, query["code_challenge"], fail=fail)
    return client.get(reverse("line_callback"), {"code": code, "state": state or query["state"]})


def join_with_line(client: Client, fake, shop, who: dict):
    """The whole journey, following every redirect to the page the customer ends on."""
    response = back_from_line(client, fake, to_line(client, shop), who)
    return client.get(response["Location"], follow=True) if response.status_code == 302 else response


def card_of(response) -> str:
    assert response.status_code == 200
    assert response.resolver_match.view_name == "rewards:card"
    return response.content.decode()


def test_a_new_customer_joins_with_line(world, line_on):
    response = join_with_line(customer(), line_on, world.shop, profile())
    html = card_of(response)
    assert "Hello, Lin Mei" in html
    assert response.redirect_chain[-1][0].endswith("?welcome=1")
    member = Member.objects.get(shop=world.shop)
    user = User.objects.get(email="lin.mei@example.com")
    assert (member.name, member.email, member.user, member.language) == ("Lin Mei", "lin.mei@example.com", user, "en")
    # LINE Login is no consent to news and offers.
    assert member.marketing_consent is False and member.consent_at is None
    # LINE verified the address: the account is made at once, its address verified.
    assert EmailAddress.objects.get(user=user).verified
    assert SocialAccount.objects.get(user=user, provider="line").uid == "U4af4980629"
    row = LineFollower.objects.get(shop=world.shop, line_user_id="U4af4980629")
    # LINE told us of no follow of the shop's official account.
    assert (row.member, row.following) == (member, False)
    # The customer is signed in, and the card link went to the address as after the form.
    assert response.wsgi_request.user == user
    # The provider verified the id_token at LINE with our channel id.
    assert ("/oauth2/v2.1/verify", {"client_id": CHANNEL_ID, "id_token": line_on.requests[1][1]["id_token"]}) in [
        (path, form) for path, form in line_on.requests
    ]


def test_a_friends_invitation_goes_through_line(world, line_on):
    friend = MemberFactory(shop=world.shop, name="Wang Hao")
    client = customer()
    page = client.get(reverse("members:join", args=[world.shop.slug]), {"ref": referral_token(friend)})
    assert "Wang Hao invited you." in page.content.decode()
    action = unescape(re.search(r'<form method="post" action="([^"]+)" class="line-login"', page.content.decode())[1])
    query = {k: v[0] for k, v in parse_qs(urlsplit(client.post(action)["Location"]).query).items()}
    response = back_from_line(client, line_on, query, profile())
    card_of(client.get(response["Location"], follow=True))
    assert Member.objects.get(shop=world.shop, email="lin.mei@example.com").referred_by == friend


def test_the_same_line_account_again_is_the_same_member(world, line_on):
    card_of(join_with_line(customer(), line_on, world.shop, profile()))
    # Another day, another phone: LINE signs in the account it is connected to.
    response = join_with_line(customer(), line_on, world.shop, profile(name="Mei"))
    html = card_of(response)
    assert "Hello, Lin Mei" in html
    assert not response.redirect_chain[-1][0].endswith("?welcome=1")
    assert Member.objects.filter(shop=world.shop).count() == 1
    assert User.objects.filter(email="lin.mei@example.com").count() == 1
    assert LineFollower.objects.filter(line_user_id="U4af4980629").count() == 1


def test_line_without_an_address_asks_for_one_and_keeps_it_verified(world, line_on):
    client = customer()
    response = back_from_line(client, line_on, to_line(client, world.shop), profile(email=None))
    # No address from LINE: allauth's form asks for one, in our layout.
    assert response.status_code == 302
    form = client.get(response["Location"])
    assert form.status_code == 200
    assert 'name="email"' in form.content.decode()
    assert Member.objects.count() == 0
    mail.outbox.clear()
    response = client.post(response["Location"], {"email": "mei@example.com"})
    assert response.status_code == 302
    # The address is confirmed by e-mail before anyone is signed in.
    confirm = re.search(r"http://\S+(/accounts/confirm-email/\S+/)", mail.outbox[-1].body).group(1)
    response = client.post(confirm, follow=True)
    html = card_of(response)
    assert "Hello, Lin Mei" in html
    member = Member.objects.get(shop=world.shop)
    assert member.user == User.objects.get(email="mei@example.com")
    assert LineFollower.objects.get(shop=world.shop, line_user_id="U4af4980629").member == member


def test_a_form_member_is_linked_not_duplicated(world, line_on):
    client = customer()
    client.post(
        reverse("members:join", args=[world.shop.slug]),
        {"name": "Lin Mei", "email": "lin.mei@example.com", "phone": "", "language": "en"},
    )
    member = Member.objects.get(shop=world.shop)
    owner = member.user
    # LINE's address is already an account's: LINE does not sign into it (allauth's default), the
    # address's owner is told by e-mail instead, and nobody is signed in.
    mail.outbox.clear()
    stranger = customer()
    response = back_from_line(stranger, line_on, to_line(stranger, world.shop), profile())
    assert response.status_code == 302
    assert not stranger.get(response["Location"]).wsgi_request.user.is_authenticated
    assert [message.to for message in mail.outbox] == [["lin.mei@example.com"]]
    assert not SocialAccount.objects.exists()
    assert LineFollower.objects.filter(member=member).count() == 0
    # The customer signs in with the code sent to their address, then joins with LINE: LINE is
    # connected to their account, and their membership is the one from the form.
    client.post(reverse("account_request_login_code"), {"email": "lin.mei@example.com"})
    code = re.search(r"^\s*([A-Z0-9]{4}-[A-Z0-9]{4})\s*$", mail.outbox[-1].body, re.M).group(1)
    assert client.post(reverse("account_confirm_login_code"), {"code": code}).status_code == 302
    query = to_line(client, world.shop)
    response = back_from_line(client, line_on, query, profile())
    html = card_of(client.get(response["Location"], follow=True))
    assert "Hello, Lin Mei" in html
    assert Member.objects.filter(shop=world.shop).count() == 1
    member.refresh_from_db()
    assert member.user == owner
    assert SocialAccount.objects.get(provider="line").user == owner
    assert LineFollower.objects.get(shop=world.shop, line_user_id="U4af4980629").member == member


def test_the_same_mailbox_written_another_way_is_the_same_member(world, line_on):
    """A member whose address is the mailbox LINE verified (Gmail ignores dots and +tags)."""
    member, _ = services.member_join(
        shop=world.shop,
        name="Lin Mei",
        email="lin.mei+cafe@gmail.com",
        phone="",
        birthday=None,
        marketing_consent=True,
        language="en",
    )
    owner = member.user
    html = card_of(join_with_line(customer(), line_on, world.shop, profile(email="linmei@gmail.com")))
    assert "Hello, Lin Mei" in html
    assert Member.objects.filter(shop=world.shop).count() == 1
    member.refresh_from_db()
    # The member's own account stays theirs; their consent is untouched.
    assert member.user == owner and member.marketing_consent
    assert LineFollower.objects.get(shop=world.shop, line_user_id="U4af4980629").member == member


def test_a_follower_linked_by_code_is_that_member(world, line_on):
    member = MemberFactory(shop=world.shop, name="Chen Jie", email="", phone="0912345678")
    LineFollower.objects.create(shop=world.shop, line_user_id="Ucode", member=member, following=True)
    response = join_with_line(
        customer(), line_on, world.shop, profile(sub="Ucode", name="Jie", email="jie@example.com")
    )
    html = card_of(response)
    assert "Hello, Chen Jie" in html
    assert Member.objects.filter(shop=world.shop).count() == 1
    member.refresh_from_db()
    assert member.user == User.objects.get(email="jie@example.com")
    row = LineFollower.objects.get(shop=world.shop, line_user_id="Ucode")
    assert (row.member, row.following) == (member, True)


def test_another_shop_is_not_touched(world, line_on):
    """The same person is a member of Dave's bakery, by address and by LINE: joining Alice's café
    makes a member there and leaves the bakery's as it was."""
    theirs = MemberFactory(shop=world.other_shop, name="Lin at the bakery", email="lin.mei@example.com")
    LineFollower.objects.create(shop=world.other_shop, line_user_id="U4af4980629", member=theirs)
    html = card_of(join_with_line(customer(), line_on, world.shop, profile()))
    assert "Hello, Lin Mei" in html
    assert "Lin at the bakery" not in html
    ours = Member.objects.get(shop=world.shop)
    assert ours != theirs
    theirs.refresh_from_db()
    assert theirs.user is None and theirs.name == "Lin at the bakery"
    assert LineFollower.objects.get(shop=world.other_shop).member == theirs
    assert LineFollower.objects.get(shop=world.shop).member == ours


def test_a_forged_state_is_refused(world, line_on):
    client = customer()
    query = to_line(client, world.shop)
    response = back_from_line(client, line_on, query, profile(), state="forged-state")
    assert response.status_code == 401
    assert "Third-Party Login Failure" in response.content.decode()
    assert not response.wsgi_request.user.is_authenticated
    # The token endpoint was never asked, and nobody was made.
    assert not any(path == "/oauth2/v2.1/token" for path, _form in line_on.requests)
    assert not Member.objects.exists() and not User.objects.filter(email="lin.mei@example.com").exists()


def test_an_error_from_line_is_refused(world, line_on):
    client = customer()
    response = back_from_line(client, line_on, to_line(client, world.shop), profile(), fail=True)
    assert response.status_code == 401
    assert "Third-Party Login Failure" in response.content.decode()
    assert not response.wsgi_request.user.is_authenticated
    assert not Member.objects.exists() and not User.objects.filter(email="lin.mei@example.com").exists()
    # The customer cancelled at LINE: the same, without asking LINE anything.
    query = to_line(client, world.shop)
    response = client.get(reverse("line_callback"), {"error": "access_denied", "state": query["state"]}, follow=True)
    assert response.status_code == 200
    assert "Login Cancelled" in response.content.decode()
    assert not Member.objects.exists()


def test_the_join_limits_hold(world, line_on, settings):
    settings.JOINS_PER_IP_PER_HOUR = 0
    response = join_with_line(customer(), line_on, world.shop, profile())
    assert response.resolver_match.view_name == "members:join"
    assert "Too many sign-ups from here just now" in response.content.decode()
    assert not Member.objects.exists()


def test_the_join_page_back_without_line_is_the_join_page(world, line_on, alice_client):
    url = reverse("members:join_line", args=[world.shop.slug])
    assert customer().get(url)["Location"] == reverse("members:join", args=[world.shop.slug])
    # Signed in, but not with LINE: the join page too, and nobody is made a member.
    assert alice_client.get(url)["Location"] == reverse("members:join", args=[world.shop.slug])
    assert customer().post(url).status_code == 405
    assert customer().get(reverse("members:join_line", args=["no-such-shop"])).status_code == 404
    assert not Member.objects.exists()


def test_the_sign_in_page_offers_line(world, line_on):
    html = customer().get(reverse("account_login")).content.decode()
    assert "Sign in with LINE" in html


def test_without_line_login_there_is_no_button_and_no_line_login(world, fake):
    client = customer()
    html = client.get(reverse("members:join", args=[world.shop.slug])).content.decode()
    assert "Join with LINE" not in html and "/accounts/line/" not in html
    assert "Sign in with LINE" not in client.get(reverse("account_login")).content.decode()
    assert client.get(reverse("line_login")).status_code == 404
    assert client.post(reverse("line_login")).status_code == 404
    assert client.get(reverse("line_callback"), {"code": "x", "state": "y"}).status_code == 404
    assert client.get(reverse("members:join_line", args=[world.shop.slug])).status_code == 404
    assert fake.requests == []


SHOW = (
    "from django.conf import settings; "
    "print(settings.SOCIALACCOUNT_PROVIDERS['line']['APPS'], "
    "settings.CONTENT_SECURITY_POLICY['DIRECTIVES']['form-action'])"
)


@pytest.mark.parametrize(
    ("env", "apps", "line_in_csp"),
    [
        ({"LINE_LOGIN_CHANNEL_ID": CHANNEL_ID, "LINE_LOGIN_CHANNEL_SECRET": CHANNEL_SECRET}, True, True),
        ({"LINE_LOGIN_CHANNEL_ID": CHANNEL_ID, "LINE_LOGIN_CHANNEL_SECRET": ""}, False, False),
        ({"LINE_LOGIN_CHANNEL_ID": "", "LINE_LOGIN_CHANNEL_SECRET": ""}, False, False),
    ],
)
def test_line_login_comes_from_the_environment(env, apps, line_in_csp):
    """Both settings make the app; the buttons' redirect to LINE is allowed by the page's CSP."""
    result = run_manage("shell", "-c", SHOW, **{**PRODUCTION, **env})
    assert result.returncode == 0, result.stderr
    assert (f"'client_id': '{CHANNEL_ID}'" in result.stdout) is apps
    assert (CHANNEL_SECRET in result.stdout) is apps
    assert ("https://access.line.me" in result.stdout) is line_in_csp


on_postgresql = pytest.mark.skipif(connection.vendor != "postgresql", reason="locking is proven on PostgreSQL only")


@on_postgresql
def test_the_follower_row_is_locked_while_the_membership_is_found(world):
    user = UserFactory(email="lin.mei@example.com")
    line = LineIdentity(user_id="Ulock", name="Lin Mei", email="")
    with CaptureQueriesContext(connection) as queries:
        member_for_line(shop=world.shop, user=user, line=line, language="en")
    assert any("FOR UPDATE" in q["sql"] and "members_linefollower" in q["sql"] for q in queries.captured_queries)


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_two_sign_ins_at_once_make_one_member():
    """The same LINE account back twice at the same instant (a double tap, two tabs), with no
    address to tell them apart: one member."""
    shop = ShopFactory()
    user = UserFactory(email="lin.mei@example.com")
    line = LineIdentity(user_id="Urace", name="Lin Mei", email="")
    barrier = threading.Barrier(4)
    results = [None] * 4

    def run(i):
        try:
            barrier.wait()
            results[i] = member_for_line(shop=shop, user=user, line=line, language="en")[0].pk
        except Exception as error:
            results[i] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(set(results)) == 1, results
    assert Member.objects.filter(shop=shop).count() == 1
    assert LineFollower.objects.get(shop=shop, line_user_id="Urace").member_id == results[0]
