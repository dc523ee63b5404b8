"""One question after a visit, on the member's card: a rating of 1 to 5 and an optional comment, at
most once a day (the shop's day) and once per visit; the owner's page per week and per member of
staff, and a reply by e-mail to a low rating.

- ``services``: the shop's setting, giving feedback (under the member's lock), replying (once, through
  the outbox), what the card shows, and what an erasure empties.
- ``figures``: the owner's page in a fixed number of queries.
- ``forms`` and ``views``: the card's form (public, addressed by the card's signed link) and the
  owner's pages.
"""
