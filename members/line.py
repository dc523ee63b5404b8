"""A shop's LINE official account: its credentials, encrypted at rest, the accounts that follow it,
the one-time codes that link a follower to a member's card, and replies through the Messaging API.

The channel secret and access token are encrypted with ``settings.LINE_CREDENTIALS_KEY`` (a Fernet
key); without the key no shop can connect LINE. Whether a shop has a channel is held with its
settings (``members.config``), so a card of a shop without LINE asks the database nothing more.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

import urllib3
from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from linebot.v3.messaging import (
    ApiClient,
    Configuration,
    MessagingApi,
    PushMessageRequest,
    ReplyMessageRequest,
    TextMessage,
)
from linebot.v3.messaging.exceptions import ApiException, OpenApiException

from .config import shop_cached
from .models import CODE_ALPHABET, AuditEntry, LineChannel, LineFollower, LineLinkCode, Member, Shop, User, random_code

logger = logging.getLogger(__name__)

CODE_LENGTH = 8
CODE_VALID_FOR = timedelta(minutes=10)
# Seconds a reply may take to connect and to answer; LINE waits for the webhook's answer meanwhile.
REPLY_TIMEOUT = 5.0
# Seconds a message pushed by the worker may take; one that times out is tried again later.
PUSH_TIMEOUT = 10.0
# LINE takes at most 5,000 characters in a text message.
TEXT_LIMIT = 5000


class CredentialsUnavailable(Exception):
    """No key on this installation, or one that cannot read what is stored."""


def available() -> bool:
    """Whether this installation can store LINE credentials (it has a key)."""
    return bool(settings.LINE_CREDENTIALS_KEY)


def _fernet() -> Fernet:
    if not available():
        raise CredentialsUnavailable
    return Fernet(settings.LINE_CREDENTIALS_KEY.encode())


def _encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def _decrypt(value: str) -> str:
    try:
        return _fernet().decrypt(value.encode()).decode()
    except InvalidToken:
        raise CredentialsUnavailable from None


@dataclass(frozen=True)
class Credentials:
    secret: str
    token: str


def credentials(channel: LineChannel) -> Credentials:
    return Credentials(secret=_decrypt(channel.secret_encrypted), token=_decrypt(channel.token_encrypted))


def has_line(shop: Shop) -> bool:
    """Whether the shop has connected LINE: held with the shop's settings (no query while current)."""
    return shop_cached(shop, "line", lambda s: LineChannel.objects.filter(shop=s).exists())


def channel_of(shop: Shop) -> LineChannel | None:
    return LineChannel.objects.filter(shop=shop).first()


@transaction.atomic
def channel_connect(*, shop: Shop, channel_id: str, secret: str, token: str, by: User) -> LineChannel:
    """Connect (or reconnect) the shop's LINE official account, its secret and token encrypted."""
    channel, _created = LineChannel.objects.update_or_create(
        shop=shop,
        defaults={
            "channel_id": channel_id.strip(),
            "secret_encrypted": _encrypt(secret.strip()),
            "token_encrypted": _encrypt(token.strip()),
            "secret_tail": secret.strip()[-4:],
            "token_tail": token.strip()[-4:],
            "connected_at": timezone.now(),
            "connected_by": by,
        },
    )
    AuditEntry.objects.create(
        shop=shop, actor=by, action=AuditEntry.Action.LINE_CONNECTED, subject=channel.channel_id[:40]
    )
    return channel


@transaction.atomic
def channel_disconnect(*, shop: Shop, by: User | None) -> bool:
    """Forget the shop's credentials (its followers are kept: reconnecting the same account links
    them). Messages waiting for LINE go by e-mail instead. False when nothing was connected."""
    channels = list(LineChannel.objects.filter(shop=shop))
    for channel in channels:
        channel.delete()  # one by one: config.watch changes the shop's settings key
        AuditEntry.objects.create(
            shop=shop, actor=by, action=AuditEntry.Action.LINE_DISCONNECTED, subject=channel.channel_id[:40]
        )
    return bool(channels)


# Followers


def follower(shop: Shop, line_user_id: str) -> LineFollower:
    """The follower row of a LINE account at a shop (made if LINE told us nothing of it before)."""
    row, _created = LineFollower.objects.get_or_create(shop=shop, line_user_id=line_user_id)
    return row


def follow(shop: Shop, line_user_id: str) -> LineFollower:
    row = follower(shop, line_user_id)
    row.following, row.followed_at, row.unfollowed_at = True, timezone.now(), None
    row.save(update_fields=["following", "followed_at", "unfollowed_at"])
    return row


def unfollow(shop: Shop, line_user_id: str) -> LineFollower:
    row = follower(shop, line_user_id)
    row.following, row.unfollowed_at = False, timezone.now()
    row.save(update_fields=["following", "unfollowed_at"])
    return row


def linked(member: Member) -> bool | None:
    """None when no LINE account is linked to the member's card; else whether one linked follows
    the shop's account (and so gets the shop's messages)."""
    states = list(
        LineFollower.objects.filter(shop_id=member.shop_id, member=member).values_list("following", flat=True)
    )
    return any(states) if states else None


def reachable(member: Member) -> str:
    """The LINE user id the member's messages go to: linked to their card and following the shop's
    account (following is the channel's consent: who unfollows gets nothing more on LINE); "" when
    there is none. No query for a shop without LINE whose row the member holds."""
    if Member._meta.get_field("shop").is_cached(member):
        if not has_line(member.shop):
            return ""
        found = LineFollower.objects.filter(shop_id=member.shop_id, member=member, following=True)
    else:
        found = LineFollower.objects.filter(
            shop_id=member.shop_id, member=member, following=True, shop__line_channel__isnull=False
        )
    return found.order_by("-followed_at").values_list("line_user_id", flat=True).first() or ""


def member_unlink(member: Member) -> None:
    """The member's card no longer reaches any LINE account."""
    LineFollower.objects.filter(shop_id=member.shop_id, member=member).update(member=None)


# Link codes


def live_code(member: Member) -> str | None:
    """The member's code while it can still be used."""
    row = LineLinkCode.objects.filter(member=member, used_at__isnull=True, expires_at__gt=timezone.now()).first()
    return row.code if row else None


def code_new(member: Member) -> str:
    """A fresh code for the member, replacing any earlier one."""
    for _attempt in range(5):
        code = random_code(CODE_LENGTH)
        if not LineLinkCode.objects.filter(shop_id=member.shop_id, code=code).exclude(member=member).exists():
            break
    LineLinkCode.objects.update_or_create(
        member=member,
        defaults={
            "shop_id": member.shop_id,
            "code": code,
            "expires_at": timezone.now() + CODE_VALID_FOR,
            "used_at": None,
        },
    )
    return code


def looks_like_code(text: str) -> bool:
    text = text.strip().upper()
    return len(text) == CODE_LENGTH and all(char in CODE_ALPHABET for char in text)


class LinkResult:
    LINKED = "linked"
    EXPIRED = "expired"
    UNKNOWN = "unknown"


@transaction.atomic
def code_redeem(shop: Shop, line_user_id: str, text: str) -> tuple[str, Member | None]:
    """Link the LINE account to the member whose code it sent. A code works once, for 10 minutes."""
    row = (
        LineLinkCode.objects.select_for_update()
        .select_related("member")
        .filter(shop=shop, code=text.strip().upper(), used_at__isnull=True)
        .first()
    )
    if row is None or row.member.erased_at is not None:
        return LinkResult.UNKNOWN, None
    if row.expires_at <= timezone.now():
        return LinkResult.EXPIRED, None
    row.used_at = timezone.now()
    row.save(update_fields=["used_at"])
    account = follower(shop, line_user_id)
    account.member = row.member
    account.save(update_fields=["member"])
    return LinkResult.LINKED, row.member


# Replies and messages


def reply(channel: LineChannel, reply_token: str, texts: list[str]) -> bool:
    """Answer a LINE event. A LINE error or timeout is logged, never raised: the webhook still
    answers 200, so LINE does not send the event again. Returns whether LINE took the reply."""
    try:
        token = credentials(channel).token
        configuration = Configuration(access_token=token, host=settings.LINE_API_URL)
        configuration.retries = 0
        with ApiClient(configuration) as client:
            MessagingApi(client).reply_message(
                ReplyMessageRequest(reply_token=reply_token, messages=[TextMessage(text=text) for text in texts]),
                _request_timeout=REPLY_TIMEOUT,
            )
    # ValueError: an answer that does not parse (pydantic's ValidationError is one).
    except (OpenApiException, urllib3.exceptions.HTTPError, OSError, ValueError, CredentialsUnavailable) as error:
        logger.warning("LINE reply failed for shop %s: %s", channel.shop_id, type(error).__name__)
        return False
    return True


class PushFailed(Exception):
    """LINE did not take the message; it may be tried again."""


def _client(channel: LineChannel) -> ApiClient:
    configuration = Configuration(access_token=credentials(channel).token, host=settings.LINE_API_URL)
    configuration.retries = 0  # the outbox retries, with the same retry key
    return ApiClient(configuration)


def push(channel: LineChannel, to: str, text: str, *, retry_key: str) -> None:
    """Send one text to a LINE account. ``retry_key`` (the message's id) makes LINE take it at
    most once however often it is sent: a second send of a key LINE accepted answers 409, which
    means it is there already. Raises PushFailed on an error or a timeout (the outbox tries again
    later with the same key) and CredentialsUnavailable without readable credentials."""
    if len(text) > TEXT_LIMIT:
        text = text[: TEXT_LIMIT - 1] + "…"
    try:
        with _client(channel) as client:
            MessagingApi(client).push_message(
                PushMessageRequest(to=to, messages=[TextMessage(text=text)]),
                x_line_retry_key=retry_key,
                _request_timeout=PUSH_TIMEOUT,
            )
    except ApiException as error:
        if error.status == 409 and error.headers and error.headers.get("x-line-accepted-request-id"):
            return  # sent before, by an attempt whose answer was lost
        raise PushFailed(f"LINE answered {error.status}: {(error.body or '')[:300]}") from None
    except (urllib3.exceptions.HTTPError, OSError, ValueError) as error:
        raise PushFailed(f"LINE could not be reached: {type(error).__name__}") from None
