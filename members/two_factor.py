"""Two-factor sign-in (allauth.mfa): who must have it at a shop, and the way there and back.

Anyone signed in may set it up from their account. A shop that requires it (``Shop.require_mfa``)
asks it of every role that sees its members' data (``members.view``): ``shop_view`` sends such a
user without an authenticator to the set-up page, remembering the page they wanted, and once an
authenticator is added the page they land on offers the way back.
"""

from allauth.mfa.models import Authenticator
from allauth.mfa.utils import is_mfa_enabled
from django.contrib import messages
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django_htmx.http import HttpResponseClientRedirect

from .roles import role_has

# Recovery codes alone are no second step: they exist only beside an app or a key.
SECOND_STEPS = [Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN]
# The shop page a user was sent away from, kept in their session until an authenticator is added.
RETURN_KEY = "members.mfa_return_to"


def has_two_factor(user) -> bool:
    """Whether ``user`` signs in with a second step (an authenticator app or a security key)."""
    return is_mfa_enabled(user, SECOND_STEPS)


def required(membership) -> bool:
    """Whether this role at this shop must sign in with a second step."""
    return membership.shop.require_mfa and role_has(membership.role, "members.view")


def send_to_setup(request, shop):
    """Where a user the shop asks for two-factor sign-in goes until they have it: the set-up page,
    with the reason, and the page they wanted remembered for afterwards."""
    if request.method == "GET" and not request.htmx:
        wanted = request.get_full_path()
    else:
        # A form's target may answer only a POST, a fragment only htmx: back to the page instead.
        wanted = (request.htmx and request.htmx.current_url_abs_path) or reverse("members:shop_home", args=[shop.slug])
    request.session[RETURN_KEY] = wanted
    messages.warning(
        request,
        _(
            "%(shop)s asks everyone who can see its members' data to sign in with a second step. Set up an "
            "authenticator app or a security key to go on."
        )
        % {"shop": shop.name},
    )
    setup = reverse("mfa_index")
    return HttpResponseClientRedirect(setup) if request.htmx else HttpResponseRedirect(setup)


def offer_way_back(sender, request=None, user=None, **kwargs):
    """On ``allauth.mfa.signals.authenticator_added``: the page the user lands on (their recovery
    codes, the first time) links back to the shop page they were sent away from."""
    if request is None or not hasattr(request, "session"):
        return
    wanted = request.session.pop(RETURN_KEY, None)
    if not wanted or not url_has_allowed_host_and_scheme(wanted, allowed_hosts=None):
        return
    messages.success(
        request,
        format_html(
            '{} <a href="{}">{}</a>',
            _("Two-factor sign-in is on."),
            wanted,
            _("Back to where you were"),
        ),
    )
