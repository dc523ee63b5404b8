"""Records of one shop that are probably one person: the same phone or e-mail once normalised, or the
same name (case and spaces aside) with the same birthday.

Found in the database by grouping on those keys, so a shop of any size costs the same few queries;
only the members that share a key come back. A pair whose merge was undone is not offered again: a
manager decided they are two people. Merging itself is ``rewards.services.merge``.
"""

import re
from dataclasses import dataclass
from datetime import timedelta

from django.core.cache import cache
from django.db.models import CharField, Count, Exists, F, OuterRef, Q, Value
from django.db.models.functions import Cast, Concat, Lower, Replace
from django.utils.translation import gettext_lazy as _

from .models import Member, MemberMerge, Shop

# Left out of a phone number before comparing: "+886 912-345-678" and "+886912345678" are one number.
PHONE_NOISE = " -().+/"
# Left out of a name before comparing: "Mia  Chen", "mia chen" and "王 小明" / "王小明" are one name.
NAME_NOISE = " \t\u3000"

REASONS = {
    "phone": _("Same phone"),
    "email": _("Same e-mail"),
    "person": _("Same name and birthday"),
}

# A merge can be undone for this long (rewards.services.merge).
UNDO_WINDOW = timedelta(days=1)

# The members list shows how many pairs there are; counting groups a whole shop, so the figure is
# kept this long (a merge or an undo forgets it at once).
COUNT_KEPT_FOR = 5 * 60


def _strip(expression, characters: str):
    for character in characters:
        expression = Replace(expression, Value(character), Value(""))
    return expression


def phone_key_sql(expression=None):
    return _strip(expression if expression is not None else F("phone"), PHONE_NOISE)


def name_key_sql(expression=None):
    return Lower(_strip(expression if expression is not None else F("name"), NAME_NOISE))


def phone_key(phone: str) -> str:
    """The phone as ``phone_key_sql`` compares it."""
    return re.sub("[" + re.escape(PHONE_NOISE) + "]", "", phone or "")


def _keyed(members):
    return members.annotate(
        phone_key=phone_key_sql(),
        name_key=name_key_sql(),
        person_key=Concat(name_key_sql(), Value("|"), Cast("birthday", CharField()), output_field=CharField()),
    )


@dataclass(frozen=True)
class Pair:
    """Two records that look like one person: ``first`` is the one looked at (or the older one)."""

    first: Member
    second: Member
    reasons: tuple[str, ...]

    @property
    def reason_labels(self) -> list[str]:
        return [str(REASONS[reason]) for reason in self.reasons]


def _reasons(a: tuple, b: tuple) -> tuple[str, ...]:
    """Why two records look alike; each record as (phone key, canonical e-mail, name key, birthday)."""
    reasons = []
    if a[0] and a[0] == b[0]:
        reasons.append("phone")
    if a[1] and a[1] == b[1]:
        reasons.append("email")
    if a[2] and a[3] and (a[2], a[3]) == (b[2], b[3]):
        reasons.append("person")
    return tuple(reasons)


def _keys(member: Member, name_key: str | None = None) -> tuple:
    """A keyed member's (phone key, canonical e-mail, name key, birthday)."""
    own_name = member.name_key if name_key is None else name_key
    return (member.phone_key if member.phone else "", member.email_canonical, own_name, member.birthday)


def _undone_with(member_ref, other_ref):
    """A merge of the two that was undone, either way round."""
    return MemberMerge.objects.filter(undone_at__isnull=False).filter(
        Q(kept=member_ref, merged=other_ref) | Q(kept=other_ref, merged=member_ref)
    )


def likely_duplicates(shop: Shop, member: Member | None = None, limit: int = 200) -> list[Pair]:
    """Pairs of the shop's present members that are probably one person, newest first; with
    ``member``, only the pairs with that member (one query, for the counter)."""
    members = _keyed(Member.objects.filter(shop=shop))
    if member is not None:
        return _pairs_of(member, members)
    present = members.order_by()

    def repeated(key: str, having: Q):
        return present.filter(having).values(key).annotate(n=Count("pk")).filter(n__gt=1).values(key)

    candidates = members.filter(
        Q(phone_key__in=repeated("phone_key", ~Q(phone="")))
        | Q(email_canonical__in=repeated("email_canonical", ~Q(email_canonical="")))
        | Q(person_key__in=repeated("person_key", Q(birthday__isnull=False) & ~Q(name_key="")))
    ).order_by("pk")[: limit * 4]
    candidates = list(candidates)
    undone = {
        frozenset(pair)
        for pair in MemberMerge.objects.filter(shop=shop, undone_at__isnull=False).values_list("kept_id", "merged_id")
    }
    groups: dict[tuple[str, str], list[Member]] = {}
    for candidate in candidates:
        for kind, value in (
            ("phone", candidate.phone_key if candidate.phone else ""),
            ("email", candidate.email_canonical),
            ("person", candidate.person_key if candidate.birthday and candidate.name_key else ""),
        ):
            if value:
                groups.setdefault((kind, value), []).append(candidate)
    pairs: dict[tuple[int, int], Pair] = {}
    for group in groups.values():
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                if (a.pk, b.pk) in pairs or frozenset((a.pk, b.pk)) in undone:
                    continue
                pairs[(a.pk, b.pk)] = Pair(a, b, _reasons(_keys(a), _keys(b)))
    found = sorted(pairs.values(), key=lambda pair: (pair.second.joined_at, pair.second.pk), reverse=True)
    return found[:limit]


def _pairs_of(member: Member, members) -> list[Pair]:
    """The counter's question, asked at every manager's look-up, so it reads one range of an index:
    the same name with the same birthday (``member_shop_birthday``). Phones and e-mail addresses are
    stored normalised and are unique in a shop, so no second record shares them; the duplicates page
    (a scan of the shop, counted a few minutes at a time) also finds ones written another way."""
    if not (member.birthday and member.name.strip()):
        return []
    others = (
        members.filter(birthday=member.birthday, name_key=name_key_sql(Value(member.name)))
        .exclude(pk=member.pk)
        .filter(~Exists(_undone_with(member.pk, OuterRef("pk"))))
        .annotate(own_name_key=name_key_sql(Value(member.name)))
        .order_by("-joined_at")[:5]
    )
    pairs = []
    for other in others:
        mine = (phone_key(member.phone), member.email_canonical, other.own_name_key, member.birthday)
        pairs.append(Pair(member, other, _reasons(mine, _keys(other))))
    return pairs


def _count_key(shop_id: int) -> str:
    return f"shop-duplicates:{shop_id}"


def duplicate_count(shop: Shop) -> int:
    """How many likely duplicate pairs the shop has, for the members list (kept a few minutes)."""
    if (kept := cache.get(_count_key(shop.pk))) is not None:
        return kept
    count = len(likely_duplicates(shop))
    cache.set(_count_key(shop.pk), count, COUNT_KEPT_FOR)
    return count


def forget_count(shop_id: int) -> None:
    cache.delete(_count_key(shop_id))
