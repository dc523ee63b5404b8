"""What rewards tells, and asks, the apps above it (campaigns). Rewards never imports them.

Each signal is sent inside the action's transaction, the member row locked: a receiver's writes
commit with the action or not at all, and a receiver that raises undoes the action, so a receiver
whose work must never cost the action (a referral check) keeps it in a savepoint of its own.
Receivers connect in their app's ``AppConfig.ready``.
"""

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from django.dispatch import Signal

# A visit happened: a stamp or a purchase (member=, now=). Campaigns completes referrals.
visit_recorded = Signal()

# Asked before stamps or points are written (member=, what="stamps" or "points", now=): a receiver
# answers with a Boost that applies at this moment, or None. The highest multiplier wins.
boost_wanted = Signal()

# Asked when a page shows a member (member=, page="counter" or "card", now=): a receiver answers
# with an Extra, a template and its context, shown in the page's place for news of other apps.
extras_wanted = Signal()


@dataclass(frozen=True)
class Boost:
    name: str
    multiplier: Decimal

    def bonus(self, base: int) -> int:
        """What the multiplier adds to ``base``: x2 on 3 stamps adds 3; x1.5 on 3 adds 1 (rounded down)."""
        return int((Decimal(base) * (self.multiplier - 1)).to_integral_value(rounding=ROUND_FLOOR))


@dataclass(frozen=True)
class Extra:
    template: str
    context: dict


def boost_for(*, member, what: str, now) -> Boost | None:
    answers = [boost for _receiver, boost in boost_wanted.send(sender=None, member=member, what=what, now=now) if boost]
    return max(answers, key=lambda boost: boost.multiplier, default=None)


def extras_for(*, member, page: str, now) -> list[Extra]:
    return [extra for _receiver, extra in extras_wanted.send(sender=None, member=member, page=page, now=now) if extra]


# Two records of one person were merged (kept=, merged=, now=), both rows locked: campaigns moves the
# merged record's reach to the kept one. A receiver answers with a dict (JSON) of what it moved,
# kept with the merge and handed back on undo.
members_merged = Signal()

# A merge is being undone (kept=, merged=, moved= the receivers' answers merged into one dict, now=),
# both rows locked: what moved goes back.
merge_undoing = Signal()
