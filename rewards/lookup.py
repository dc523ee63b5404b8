"""How a member was found at the counter, carried from the look-up to the ledger rows it leads to.

The look-up signs (member, method) into the panel it renders, so a form cannot claim a fresh QR
scan it never had; every ledger row written while ``found_by`` is active records the method.
"""

from contextlib import contextmanager

from django.core import signing

from .models import FOUND_BY, FoundBy

SALT = "counter-found-by"
# A panel older than this no longer vouches for how the member was found.
MAX_AGE = 15 * 60


def found_token(member_public_id, method: str) -> str:
    return signing.dumps([str(member_public_id), method], salt=SALT, compress=True)


def found_method(token: str | None, member_public_id) -> str:
    """The method a panel's token vouches for, or "" if it is missing, stale, forged or another member's."""
    try:
        member_id, method = signing.loads(token or "", salt=SALT, max_age=MAX_AGE)
    except (signing.BadSignature, ValueError, TypeError):
        return ""
    return method if member_id == str(member_public_id) and method in FoundBy.values else ""


@contextmanager
def found_by(method: str):
    token = FOUND_BY.set(method)
    try:
        yield
    finally:
        FOUND_BY.reset(token)
