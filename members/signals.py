"""What members tells the apps above it. Sent inside the transaction that made the change, so a
receiver's work commits with it or not at all; a receiver that raises undoes the change.

Apps above members (rewards, campaigns) connect receivers in their ``AppConfig.ready``; members
never imports them.
"""

from django.dispatch import Signal

# A shop was created (shop=): rewards gives it its first stamp card.
shop_created = Signal()

# A customer joined a shop (member=, now=): campaigns gives running welcome gifts.
member_joined = Signal()

# A member's personal data is about to be erased (member=, now=, by=): the member row is locked and
# still whole. Rewards closes the balances and voids the vouchers; campaigns forgets the member's
# activity. The erasure commits with their work or not at all.
member_erasing = Signal()
