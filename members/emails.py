"""One person, one address: the canonical form of an e-mail address for comparing, never for sending.

``Name+friend@Example.com`` and, at Gmail, ``n.a.m.e@googlemail.com`` reach the
same mailbox as ``name@example.com`` and ``name@gmail.com``. Duplicate checks,
the referral guard and the counter's look-up compare this form; the address
as typed is kept for sending.
"""

# Providers that ignore dots in the local part.
DOTLESS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


def canonical_email(address: str) -> str:
    address = (address or "").strip().lower()
    local, at, domain = address.rpartition("@")
    if not at or not local:
        return address
    local = local.split("+", 1)[0]
    if domain in DOTLESS:
        domain = DOTLESS[domain]
        local = local.replace(".", "")
    return f"{local}@{domain}"
