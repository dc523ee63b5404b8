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
from members.tokens import card_token

from ..config import shop_rewards
from ..reads import cards, stamps_by_program

CARD_WORDS = {"card", "my card", "卡", "我的卡"}


@csrf_exempt
@require_POST
def line_webhook(request, shop_slug):
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
        return HttpResponseBadRequest("Bad signature.")
    for event in events:
        _handle(channel, event)
    return HttpResponse("ok", content_type="text/plain")


def _handle(channel: LineChannel, event) -> None:
    shop = channel.shop
    user_id = getattr(event.source, "user_id", None)
    if not user_id:
        return
    if isinstance(event, FollowEvent):
        line.follow(shop, user_id)
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
