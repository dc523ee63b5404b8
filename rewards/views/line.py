"""A shop's LINE webhook: LINE tells us who follows the shop's official account and what they
write; a member links their LINE account with the code from their card and asks for their card.
The view lives here, not in members, because the answer tells the member's balances."""

from django.conf import settings
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from linebot.v3 import WebhookParser
from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.webhooks import FollowEvent, MessageEvent, TextMessageContent, UnfollowEvent

from members import line
from members.models import LineChannel, LineFollower, Member
from members.ratelimit import allow, client_ip, seconds_left
from members.tokens import card_token

from ..config import shop_rewards
from ..reads import cards, stamps_by_program

CARD_WORDS = {"card", "my card", "卡", "我的卡"}
# Requests with a wrong signature from one address in a minute before the webhook stops checking
# them (each check reads and decrypts the shop's secret), and signed requests per shop in a minute
# (LINE sends events in batches; more than this is not a café's account). LINE delivers again
# what was refused, when the account turns redelivery on.
BAD_SIGNATURES_PER_MINUTE = 30
EVENTS_PER_SHOP_PER_MINUTE = 600


def _too_many() -> HttpResponse:
    response = HttpResponse("Too many requests.", status=429, content_type="text/plain")
    response["Retry-After"] = str(seconds_left(60))
    return response


@csrf_exempt
@require_POST
def line_webhook(request, shop_slug):
    bad_key = f"line:bad:{client_ip(request)}"
    if not allow(bad_key, limit=BAD_SIGNATURES_PER_MINUTE, period=60, count=False):
        return _too_many()
    channel = LineChannel.objects.select_related("shop").filter(shop__slug=shop_slug).first()
    if channel is None:
        raise Http404
    try:
        secret = line.credentials(channel).secret
    except line.CredentialsUnavailable:
        raise Http404 from None
    try:
        events = WebhookParser(secret).parse(request.body.decode(), request.headers.get("X-Line-Signature", ""))
    except (InvalidSignatureError, ValueError, UnicodeDecodeError):
        allow(bad_key, limit=BAD_SIGNATURES_PER_MINUTE, period=60)
        return HttpResponseBadRequest("Bad signature.")
    if not allow(f"line:shop:{channel.shop_id}", limit=EVENTS_PER_SHOP_PER_MINUTE, period=60):
        return _too_many()
    for event in events:
        _handle(channel, event)
    return HttpResponse("ok", content_type="text/plain")


def _handle(channel: LineChannel, event) -> None:
    shop = channel.shop
    user_id = getattr(event.source, "user_id", None)
    if not user_id:
        return
    if isinstance(event, FollowEvent):
        account = line.follow(shop, user_id)
        line.reply(channel, event.reply_token, [_welcome(shop, account)])
    elif isinstance(event, UnfollowEvent):
        line.unfollow(shop, user_id)
    elif isinstance(event, MessageEvent) and isinstance(event.message, TextMessageContent):
        line.follower(shop, user_id)  # one who writes follows (perhaps since before the shop connected LINE)
        text = event.message.text.strip()
        if line.looks_like_code(text):
            answer = _link(shop, user_id, text)
        elif text.casefold() in CARD_WORDS:
            answer = _card(shop, user_id)
        else:
            return
        line.reply(channel, event.reply_token, [answer])


def _welcome(shop, account: LineFollower) -> str:
    """The answer to a follow: a linked member is greeted by name; anyone else learns how to link
    their card or join."""
    member = account.member
    if member is not None and member.erased_at is None:
        with translation.override(member.language):
            return _("Welcome back, %(name)s! Send “card” any time for your card and balances.") % {
                "name": member.name.split()[0] if member.name.split() else member.name
            }
    with translation.override(shop.language):
        return _(
            "Thank you for following %(shop)s! Already a member? Open your card, tap “Connect LINE” and send "
            "the code shown here. Not yet? Join here: %(url)s"
        ) % {"shop": shop.name, "url": settings.SITE_URL + reverse("members:join", args=[shop.slug])}


def _link(shop, user_id: str, text: str) -> str:
    result, member = line.code_redeem(shop, user_id, text)
    if result == line.LinkResult.LINKED:
        with translation.override(member.language):
            return _("Linked: this LINE account now gets %(shop)s's messages for %(name)s's card") % {
                "shop": shop.name,
                "name": member.name.split()[0] if member.name.split() else member.name,
            }
    with translation.override(shop.language):
        if result == line.LinkResult.EXPIRED:
            return _("This code has expired. Open your card, tap “Connect LINE” and send the new code.")
        return _("This code is not known. Open your card, tap “Connect LINE” and send the code shown.")


def _card(shop, user_id: str) -> str:
    account = LineFollower.objects.filter(shop=shop, line_user_id=user_id).select_related("member").first()
    member: Member | None = account.member if account else None
    if member is None or member.erased_at is not None:
        with translation.override(shop.language):
            return _(
                "This LINE account is not linked to a card yet. Open your card, tap “Connect LINE” and send the "
                "code shown here."
            )
    with translation.override(member.language):
        lines = [
            _("Your card at %(shop)s: %(url)s")
            % {"shop": shop.name, "url": settings.SITE_URL + reverse("rewards:card", args=[card_token(member)])}
        ]
        if shop_rewards(shop).active_rule:
            lines.append(_("Points: %(points)s") % {"points": member.points})
        for card in cards(shop, stamps_by_program(member)):
            lines.append(
                _("%(card)s: %(stamps)s of %(needed)s stamps")
                % {"card": card.program.name, "stamps": card.stamps, "needed": card.program.stamps_needed}
            )
    return "\n".join(lines)
