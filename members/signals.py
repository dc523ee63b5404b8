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
