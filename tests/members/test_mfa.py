"""Two-factor sign-in (allauth.mfa): set up through allauth's own pages, asked at log-in, and
required by a shop of the roles that see its members' data."""

import html
import re
import time
from datetime import UTC, datetime

import pytest
import time_machine
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from django.core import mail
from django.urls import reverse

from members.models import AuditEntry
from members.roles import Role

from ..factories import PASSWORD, StaffFactory

NOON = datetime(2026, 3, 2, 4, 0, 5, tzinfo=UTC)  # noon in Taipei, five seconds into a 30-second step


@pytest.fixture
def clock():
    """Time stands still unless a test moves it: a code is for one 30-second step."""
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


def totp_code(secret: str, steps: int = 0) -> str:
    """The code an authenticator app shows now (or ``steps`` periods away), by allauth's own helpers."""
    counter = int(time.time()) // mfa_settings.TOTP_PERIOD
    return format_hotp_value(hotp_value(secret, counter + steps))


def log_in(client, user):
    """A password log-in through allauth's own page."""
    return client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})


def confirm_password(client):
    """allauth asks for the password again (within 5 minutes) before an authenticator is added."""
    response = client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    assert response.status_code == 302


def log_out(client):
    client.post(reverse("account_logout"))
    assert "_auth_user_id" not in client.session


def shown_secret(client) -> str:
    """The secret the authenticator app's page shows beside its QR code (what the app reads from it)."""
    confirm_password(client)
    page = client.get(reverse("mfa_activate_totp"))
    assert page.status_code == 200
    return re.search(r'id="authenticator_secret"[^>]*value="([A-Z2-7=]+)"', page.content.decode()).group(1)


def set_up_totp(client) -> tuple[str, list[str]]:
    """An authenticator app set up on allauth's pages: its secret and the recovery codes shown."""
    secret = shown_secret(client)
    response = client.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)})
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_view_recovery_codes")
    codes_page = client.get(reverse("mfa_view_recovery_codes"))
    assert codes_page.status_code == 200
    textarea = re.search(r'<textarea[^>]*id="recovery_codes"[^>]*>(.*?)</textarea>', codes_page.content.decode(), re.S)
    codes = textarea.group(1).split()
    assert len(codes) == 10
    return secret, codes


def logged_in_as(client) -> str | None:
    return client.session.get("_auth_user_id")


# --- Setting it up and signing in with it ---------------------------------------------------------------------


def test_the_account_menu_offers_two_factor_sign_in(world):
    page = world.client(world.alice).get(reverse("members:shop_home", args=[world.shop.slug]))
    assert f'href="{reverse("mfa_index")}"' in page.content.decode()


def test_the_set_up_page_offers_an_app_and_security_keys(world, client):
    log_in(client, world.alice)
    page = client.get(reverse("mfa_index"))
    assert page.status_code == 200
    body = page.content.decode()
    assert f'href="{reverse("mfa_activate_totp")}"' in body
    assert f'href="{reverse("mfa_add_webauthn")}"' in body
    # The security key's page renders in the portal's layout; the key itself needs a browser.
    assert client.get(reverse("mfa_add_webauthn"))["Location"].startswith(reverse("account_reauthenticate"))
    confirm_password(client)
    add_key = client.get(reverse("mfa_add_webauthn"))
    assert add_key.status_code == 200
    assert 'id="mfa_webauthn_add"' in add_key.content.decode()
    assert 'class="site-header"' in add_key.content.decode()


def test_the_set_up_pages_render_in_the_portal_layout(world, client, clock):
    log_in(client, world.alice)
    set_up_totp(client)
    for name in ("mfa_index", "mfa_deactivate_totp", "mfa_generate_recovery_codes", "mfa_list_webauthn"):
        page = client.get(reverse(name))
        assert page.status_code == 200, name
        assert 'class="site-header"' in page.content.decode(), name
    index = client.get(reverse("mfa_index")).content.decode()
    assert f'href="{reverse("mfa_deactivate_totp")}" class="button danger"' in index


def test_log_in_asks_for_the_code_and_refuses_a_wrong_one(world, client, clock):
    log_in(client, world.alice)
    secret, _codes = set_up_totp(client)
    log_out(client)

    clock.shift(60)  # a later code than the one that activated the app
    response = log_in(client, world.alice)
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_authenticate")
    assert logged_in_as(client) is None
    page = client.get(reverse("mfa_authenticate"))
    assert page.status_code == 200
    assert 'name="code"' in page.content.decode()

    accepted = {totp_code(secret, steps) for steps in (-1, 0, 1)}
    wrong = next(code for steps in range(5, 50) if (code := totp_code(secret, steps)) not in accepted)
    response = client.post(reverse("mfa_authenticate"), {"code": wrong})
    assert response.status_code == 200
    assert "Incorrect code." in response.content.decode()
    assert logged_in_as(client) is None

    response = client.post(reverse("mfa_authenticate"), {"code": totp_code(secret)})
    assert response.status_code == 302
    assert logged_in_as(client) == str(world.alice.pk)


def test_log_in_by_emailed_code_asks_for_the_code_too(world, client, clock):
    log_in(client, world.alice)
    secret, _codes = set_up_totp(client)
    log_out(client)

    clock.shift(60)
    client.post(reverse("account_request_login_code"), {"email": world.alice.email})
    emailed = re.search(r"^\s*([A-Z0-9]{4}-[A-Z0-9]{4})\s*$", mail.outbox[-1].body, re.M).group(1)
    response = client.post(reverse("account_confirm_login_code"), {"code": emailed})
    assert response["Location"] == reverse("mfa_authenticate")
    assert logged_in_as(client) is None
    client.post(reverse("mfa_authenticate"), {"code": totp_code(secret)})
    assert logged_in_as(client) == str(world.alice.pk)


def test_a_code_a_step_old_is_still_accepted(world, client, clock):
    log_in(client, world.alice)
    secret, _codes = set_up_totp(client)
    log_out(client)
    clock.shift(120)
    log_in(client, world.alice)
    client.post(reverse("mfa_authenticate"), {"code": totp_code(secret, -1)})
    assert logged_in_as(client) == str(world.alice.pk)


def test_a_recovery_code_works_once(world, client, clock):
    log_in(client, world.alice)
    _secret, codes = set_up_totp(client)
    log_out(client)

    log_in(client, world.alice)
    response = client.post(reverse("mfa_authenticate"), {"code": codes[0]})
    assert response.status_code == 302
    assert logged_in_as(client) == str(world.alice.pk)
    log_out(client)

    log_in(client, world.alice)
    response = client.post(reverse("mfa_authenticate"), {"code": codes[0]})
    assert response.status_code == 200
    assert logged_in_as(client) is None
    response = client.post(reverse("mfa_authenticate"), {"code": codes[1]})
    assert logged_in_as(client) == str(world.alice.pk)


# --- A shop that requires it ----------------------------------------------------------------------------------


@pytest.fixture
def requiring(world):
    world.shop.require_mfa = True
    world.shop.save(update_fields=["require_mfa"])
    return world


def test_a_manager_without_it_is_sent_to_set_it_up_and_told_why(requiring, client):
    world = requiring
    log_in(client, world.bob)
    members = reverse("members:member_list", args=[world.shop.slug])
    response = client.get(members)
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_index")
    page = client.get(response["Location"])
    text = html.unescape(page.content.decode())
    assert "Alice's Café asks everyone who can see its members' data to sign in with a second step." in text
    # Every page of the shop, not only the members list.
    assert client.get(reverse("members:shop_home", args=[world.shop.slug]))["Location"] == reverse("mfa_index")
    assert client.get(reverse("rewards:counter", args=[world.shop.slug]))["Location"] == reverse("mfa_index")


def test_an_htmx_request_is_sent_to_the_set_up_page_as_a_whole_page(requiring):
    world = requiring
    counter = "http://testserver" + reverse("rewards:counter", args=[world.shop.slug])
    response = world.client(world.bob).get(
        reverse("members:member_list", args=[world.shop.slug]), HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL=counter
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("mfa_index")


def test_after_setting_it_up_the_manager_is_offered_the_way_back_and_gets_in(requiring, client, clock):
    world = requiring
    log_in(client, world.bob)
    members = reverse("members:member_list", args=[world.shop.slug]) + "?sort=name"
    assert client.get(members)["Location"] == reverse("mfa_index")

    set_up_totp(client)
    assert client.get(members).status_code == 200
    assert client.get(reverse("rewards:counter", args=[world.shop.slug])).status_code == 200


# allauth announces a new authenticator once its transaction commits: a real commit here.
@pytest.mark.django_db(transaction=True)
def test_the_way_back_link_names_the_page_left(requiring, client, clock):
    world = requiring
    log_in(client, world.bob)
    members = reverse("members:member_list", args=[world.shop.slug]) + "?sort=name"
    client.get(members)
    secret = shown_secret(client)
    response = client.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)})
    assert response["Location"] == reverse("mfa_view_recovery_codes")
    body = client.get(response["Location"]).content.decode()
    assert f'<a href="{html.escape(members)}">Back to where you were</a>' in body
    assert "Two-factor sign-in is on." in body
    assert client.get(members).status_code == 200


def test_staff_at_the_counter_are_not_asked(requiring):
    world = requiring
    client = world.client(world.carol)
    assert client.get(reverse("rewards:counter", args=[world.shop.slug])).status_code == 200
    assert client.get(reverse("members:shop_home", args=[world.shop.slug])).status_code == 200


def test_the_rule_is_per_shop(requiring):
    world = requiring
    StaffFactory(shop=world.other_shop, user=world.bob, role=Role.MANAGER)
    client = world.client(world.bob)
    assert client.get(reverse("members:member_list", args=[world.other_shop.slug])).status_code == 200
    assert client.get(reverse("members:member_list", args=[world.shop.slug]))["Location"] == reverse("mfa_index")


def test_an_owner_with_it_gets_in(requiring):
    world = requiring
    TOTP.activate(world.alice, generate_totp_secret())
    client = world.client(world.alice)
    assert client.get(reverse("members:member_list", args=[world.shop.slug])).status_code == 200


def test_recovery_codes_alone_are_not_enough(requiring):
    world = requiring
    Authenticator.objects.create(user=world.bob, type=Authenticator.Type.RECOVERY_CODES, data={"seed": "00"})
    response = world.client(world.bob).get(reverse("members:member_list", args=[world.shop.slug]))
    assert response["Location"] == reverse("mfa_index")


# --- The shop setting -----------------------------------------------------------------------------------------


def settings_data(shop, **changes) -> dict:
    data = {
        "name": shop.name,
        "slug": shop.slug,
        "brand_colour": shop.brand_colour,
        "currency": shop.currency,
        "time_zone": shop.time_zone,
        "language": shop.language,
        "join_asks_first": shop.join_asks_first,
    }
    return {**data, **changes}


def settings_url(shop) -> str:
    return reverse("members:shop_settings", args=[shop.slug])


def test_an_owner_without_it_cannot_require_it(world):
    client = world.client(world.alice)
    page = client.get(settings_url(world.shop))
    assert f'href="{reverse("mfa_index")}"' in page.content.decode()
    response = client.post(settings_url(world.shop), settings_data(world.shop, require_mfa="on"))
    assert response.status_code == 200
    assert "Set up two-factor sign-in for your own account first" in html.unescape(response.content.decode())
    world.shop.refresh_from_db()
    assert not world.shop.require_mfa


def test_an_owner_with_it_requires_it_and_switches_it_off(world):
    TOTP.activate(world.alice, generate_totp_secret())
    client = world.client(world.alice)
    assert "already uses two-factor sign-in" in client.get(settings_url(world.shop)).content.decode()
    response = client.post(settings_url(world.shop), settings_data(world.shop, require_mfa="on"))
    assert response.status_code == 302
    world.shop.refresh_from_db()
    assert world.shop.require_mfa
    # The owner still gets in, the manager without it does not.
    assert client.get(settings_url(world.shop)).status_code == 200
    assert world.client(world.bob).get(reverse("members:member_list", args=[world.shop.slug])).status_code == 302

    response = client.post(settings_url(world.shop), settings_data(world.shop))
    assert response.status_code == 302
    world.shop.refresh_from_db()
    assert not world.shop.require_mfa
    # Both changes are in the owners' audit trail, with who made them.
    audit = client.get(reverse("members:audit_list", args=[world.shop.slug])).content.decode()
    assert "Required two-factor sign-in for owners and managers" in audit
    assert "Stopped requiring two-factor sign-in" in audit
    assert set(AuditEntry.objects.filter(shop=world.shop).values_list("actor", flat=True)) == {world.alice.pk}


@pytest.mark.parametrize("who", ["bob", "carol"])
def test_staff_and_managers_cannot_change_it(world, who):
    user = getattr(world, who)
    TOTP.activate(user, generate_totp_secret())
    response = world.client(user).post(settings_url(world.shop), settings_data(world.shop, require_mfa="on"))
    assert response.status_code == 403
    world.shop.refresh_from_db()
    assert not world.shop.require_mfa


def test_a_new_shop_does_not_ask_it(world):
    from members.forms import ShopCreateForm

    assert "require_mfa" not in ShopCreateForm().fields
