"""The card's "Save to Google Wallet" link: the member's Google pass (a new one, or the one they hold),
sent on to Google's save page (rewards.google_wallet)."""

from django.http import Http404
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from members.i18n import activate_customer_language
from members.tokens import member_from_card_token

from .. import google_wallet
from ..models import WalletPass
from ..services import wallet


@never_cache
@require_GET
def card_wallet_google(request, token):
    """Issue the member a Google pass unless they hold a live one (a second click, or saving again on
    another phone, keeps it working), and send them to save it."""
    if WalletPass.Kind.GOOGLE not in wallet.issuers():
        raise Http404
    member = member_from_card_token(token)
    if member is None:
        raise Http404
    held = wallet.pass_held_or_issued(member=member, kind=WalletPass.Kind.GOOGLE)
    held.member = member
    # The pass's labels in the member's language, as on their card.
    activate_customer_language(request, member.shop, member)
    return redirect(google_wallet.save_link(held))
