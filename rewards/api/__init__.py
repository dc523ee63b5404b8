"""The shops' REST API for their points of sale and tools (docs/api.md).

v1.py       the API object, version 1, mounted at /api/v1/, and how refusals are answered
endpoints   the endpoints: look-up, members, balances, history, visits, purchases, redeeming, refunds
schemas     what they read and answer (the OpenAPI schema comes from them)
auth        the key in the request, its shop, scope and rate limit; ``acting`` around the work
idempotency Idempotency-Key: the first answer kept a day and replayed
keys        making, revoking and finding keys (the owner's pages use it)
"""
