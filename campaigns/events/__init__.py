"""Members-only events: a time in the shop's time zone, a place, seats, an audience (everyone, a tier
and those above it, a membership plan, a group of customers) and an optional reward for coming.

- ``dates``: local times, and the dates of a recurring event (weekly, monthly on a day or a weekday).
- ``audience``: who an event is for, as a query (invitations) and for one member (an answer).
- ``services``: saving, inviting (through the outbox, once each), answers under the event's lock
  (the last seat to one member, the waiting list moving up), the day-before reminder, check-in with
  the reward once, cancelling, repeating.
- ``reads``: what the card, the counter and the owner's pages show, in a fixed number of queries; the
  shop's coming events are held with its settings (``members.config``), so a card costs no query
  when there is none.
- ``forms`` and ``views``: the owner's pages, the door's check-in and the card's answer.
"""
