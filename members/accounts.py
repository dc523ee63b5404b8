"""Signing in: allauth's account adapter, and lockouts answered as what they are.

allauth refuses a sign-in after too many failed attempts (per address and per e-mail), and a new
one-time code after too many requests, with an error on the form and status 200. A client, a proxy
or a monitoring tool then cannot tell a lockout from a wrong password, so the portal answers those
refusals 429 with ``Retry-After`` (the page still says why), and adds ``Retry-After`` to allauth's
own 429 answers.
"""

from allauth.account import app_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.internal.ratelimit import parse_rates
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialApp
from django.http import Http404

LOCKED_OUT = "too_many_login_attempts"
# The actions whose refusals are a lockout, and the window the longest of them waits.
LOCKOUT_ACTIONS = ("login_failed", "request_login_code")
DEFAULT_RETRY_AFTER = 60


def lockout_seconds() -> int:
    """How long a locked-out client should wait: the longest window of the sign-in limits."""
    windows = [
        rate.duration for action in LOCKOUT_ACTIONS for rate in parse_rates(app_settings.RATE_LIMITS.get(action))
    ]
    return int(max(windows, default=DEFAULT_RETRY_AFTER))


class AccountAdapter(DefaultAccountAdapter):
    def validation_error(self, code, *args):
        if code == LOCKED_OUT and self.request is not None:
            self.request.locked_out = True
        return super().validation_error(code, *args)


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def get_app(self, request, provider, client_id=None):
        """A provider this installation has not configured (LINE Login without its channel id and
        secret) is a page that does not exist, not a server error."""
        try:
            return super().get_app(request, provider, client_id=client_id)
        except SocialApp.DoesNotExist:
            raise Http404 from None


class LockoutAnswers429:
    """A sign-in refused for too many attempts answers 429 with ``Retry-After``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if getattr(request, "locked_out", False) and response.status_code == 200:
            response.status_code = 429
            response["Retry-After"] = str(lockout_seconds())
        elif response.status_code == 429 and not response.has_header("Retry-After"):
            response["Retry-After"] = str(DEFAULT_RETRY_AFTER)
        return response
