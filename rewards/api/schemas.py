"""What the API reads and answers, as typed schemas: they validate requests and make the OpenAPI
schema. Money is a decimal string ("120", "4.50"), as the shop's currency writes it."""

import uuid
from datetime import datetime
from decimal import Decimal

from ninja import Field, Schema


class Error(Schema):
    """Every refusal: a machine code to branch on and a message in the shop's language."""

    code: str = Field(description="Machine-readable: `not_enough_points`, `too_large`, `invalid`, ...")
    message: str = Field(description="For people, in the shop's language (for 401 and 404, the request's).")
    errors: list[dict] | None = Field(None, description="With `invalid`: what was wrong, field by field.")


class Tier(Schema):
    id: uuid.UUID
    name: str


class Card(Schema):
    program_id: uuid.UUID
    program: str
    stamps: int
    stamps_needed: int
    reward: str


class Voucher(Schema):
    code: str
    title: str
    status: str
    issued_at: datetime
    expires_at: datetime | None


class MemberSummary(Schema):
    id: uuid.UUID = Field(description="The member's public id, used in every member URL.")
    code: str = Field(description="The member code printed on the card.")
    name: str
    contact: str = Field(description="Phone or e-mail, masked, for staff to confirm the person.")


class Member(MemberSummary):
    points: int
    tier: Tier | None
    cards: list[Card]
    vouchers: list[Voucher] = Field(description="Vouchers the member can use now.")
    last_visit_at: datetime | None
    joined_at: datetime


class LookupResult(Schema):
    method: str = Field(description="How the query was read: qr, code, voucher, phone, email, name, or empty.")
    members: list[MemberSummary]
    voucher: Voucher | None = Field(description="The voucher, when a voucher code was looked up.")
    message: str = Field(description="Why nothing was found (an expired QR code...), or empty.")


class Entry(Schema):
    reason: str
    reason_label: str
    stamps: int
    points: int
    money_amount: Decimal | None
    program: str | None
    voucher: str | None
    note: str
    by: str = Field(description="Who acted: a staff member, `API: <key name>`, or `Automatic`.")
    group: uuid.UUID = Field(description="Rows of one action share it.")
    created_at: datetime


class History(Schema):
    items: list[Entry]
    page: int
    next_page: int | None


class Purchase(Schema):
    id: uuid.UUID
    amount: Decimal
    receipt: str
    points_earned: int
    points_spent: int
    refunded_amount: Decimal


class Action(Schema):
    """What an action did, and the member's balances after it."""

    group: uuid.UUID | None = Field(description="The action's ledger rows share it (None when it wrote none).")
    replayed: bool = Field(description="True when the same action had already been done: nothing was done twice.")
    entries: list[Entry]
    vouchers_issued: list[Voucher]
    voucher_redeemed: Voucher | None
    purchase: Purchase | None
    notes: list[str] = Field(description="What staff should know that did not stop the action.")
    member: Member


class MemberIn(Schema):
    name: str = Field(max_length=80)
    email: str = Field("", max_length=254)
    phone: str = Field("", max_length=30)
    language: str = Field("", description="en, zh-hant or zh-hans; the shop's language if empty.")
    marketing_consent: bool = Field(False, description="Only if the customer said yes when asked.")


class Joined(Schema):
    created: bool = Field(description="False when the customer was a member already: nothing changed.")
    member: Member


class VisitIn(Schema):
    program_id: uuid.UUID | None = Field(None, description="The stamp card; the shop's first active card if omitted.")
    count: int = Field(1, ge=1, le=50)


class PurchaseIn(Schema):
    amount: Decimal = Field(description="What was paid, in the shop's currency.", max_digits=12, decimal_places=2)
    receipt_id: str = Field(
        min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.:-]+$",
        description="The point of sale's receipt id: a purchase with a receipt id already recorded is not "
        "recorded again (the first result is answered).",
    )  # fmt: skip
    pay_points: int = Field(0, ge=0, description="Points that pay part of the bill, as the counter allows.")


class RefundIn(Schema):
    purchase_id: uuid.UUID | None = Field(None, description="The purchase, as a purchase answer names it.")
    receipt_id: str | None = Field(None, max_length=40, description="Or its receipt id (the latest one with it).")
    amount: Decimal = Field(description="How much of it to refund.", max_digits=12, decimal_places=2)
