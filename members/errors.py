"""The one error a service raises when it refuses: a translated message for people, a code for code.

Every service of every app raises it (shops and staff here, the ledger in
rewards, campaigns on top), so a view handles a refusal one way whatever it
called. The codes are an enumeration: a view or a test compares with
``Code.TOO_SOON``, never with a string typed again.
"""

from enum import StrEnum


class Code(StrEnum):
    # Anyone
    NOT_FOUND = "not_found"
    WRONG_SHOP = "wrong_shop"
    NOT_ALLOWED = "not_allowed"  # the role does not allow it
    BAD_KEY = "bad_key"  # an idempotency key no form of ours sends
    # Shops and staff
    ALREADY_STAFF = "already_staff"
    INVALID_INVITATION = "invalid_invitation"
    OTHER_ADDRESS = "other_address"
    NOTHING_TO_CONFIRM = "nothing_to_confirm"
    LAST_OWNER = "last_owner"
    STAFF_ACCOUNT = "staff_account"  # an account that works at a shop is not deleted by its holder
    # Stamps and vouchers
    PAUSED = "paused"
    BAD_COUNT = "bad_count"
    TOO_MANY = "too_many"
    TOO_SOON = "too_soon"
    OVERRIDE_REASON = "override_reason"
    REDEEMED = "redeemed"
    NOT_USABLE = "not_usable"
    NOTE_REQUIRED = "note_required"
    NEGATIVE = "negative"
    # Undo
    ALREADY_UNDONE = "already_undone"
    ALREADY_SPENT = "already_spent"
    TOO_LATE = "too_late"
    VOUCHER_USED = "voucher_used"
    REFUND_IS_FINAL = "refund"
    PARTLY_REFUNDED = "refunded"
    # Purchases, points and refunds
    BAD_AMOUNT = "bad_amount"
    BAD_POINTS = "bad_points"
    POINTS_OFF = "points_off"
    TOO_LARGE = "too_large"
    NO_BILL_PAYMENT = "no_bill_payment"
    NOT_ENOUGH_POINTS = "not_enough_points"
    TOO_MUCH = "too_much"
    # Catalogue
    WRONG_KIND = "wrong_kind"
    NOT_AVAILABLE = "not_available"
    TIER_TOO_LOW = "tier_too_low"
    LIMIT_REACHED = "limit_reached"
    NOT_ENOUGH_STAMPS = "not_enough_stamps"
    # Tiers
    BAD_DAYS = "bad_days"
    TRIAL_RUNNING = "running"
    NOT_HIGHER = "not_higher"
    # Merging two records of one member
    SAME_MEMBER = "same_member"
    MERGE_PENDING = "merge_pending"  # a record took in another less than a day ago: undo would break
    TAKEN = "taken"  # undo: a phone or e-mail of the merged record now belongs to another member
    # Exports
    BAD_PERIOD = "bad_period"
    # Giving to a cause
    CAUSE_CLOSED = "cause_closed"  # paused, ended, or not taking points
    DONATION_FINAL = "donation_final"  # a donation is reversed by a manager with a reason, never undone
    # Challenges
    NO_LEADERBOARD = "no_leaderboard"  # the challenge has no board, or is not running
    NICKNAME_TAKEN = "nickname_taken"
    BAD_NICKNAME = "bad_nickname"
    # Events
    EVENT_CANCELLED = "event_cancelled"
    EVENT_CLOSED = "event_closed"  # answers close at the start; check-in is open around the event's time
    NOT_INVITED = "not_invited"  # not in the event's audience, or its invitations are not out yet
    NOT_ON_LIST = "not_on_list"  # check-in of a member without a yes: staff confirm a walk-in
    ALREADY_CHECKED_IN = "already_checked_in"
    BAD_ANSWER = "bad_answer"
    # Memberships and prepaid bundles
    NOT_ON_SALE = "not_on_sale"  # a paused or retired plan
    WRONG_MEMBER = "wrong_member"  # a membership of another member
    NONE_LEFT = "none_left"
    EXPIRED = "expired"
    MEMBERSHIP_ENDED = "membership_ended"  # ended or refunded: nothing more to use, refund or undo
    ALREADY_REFUNDED = "already_refunded"
    BAD_PAYMENT = "bad_payment"
    ALREADY_RENEWED = "already_renewed"  # a membership renewed once already (two taps, two tills)
    PRICE_CHANGE_PENDING = "price_change_pending"  # one scheduled price change per plan at a time
    BAD_DATE = "bad_date"
    # Feedback after a visit
    FEEDBACK_OFF = "feedback_off"  # the shop does not ask for feedback
    NO_RECENT_VISIT = "no_recent_visit"
    FEEDBACK_GIVEN = "feedback_given"  # once a day, once per visit
    BAD_RATING = "bad_rating"
    TOO_LONG = "too_long"
    NO_EMAIL = "no_email"  # a reply needs the member's e-mail address
    ALREADY_REPLIED = "already_replied"


class LoyaltyError(Exception):
    def __init__(self, message: str, *, code: Code):
        super().__init__(message)
        self.message = message
        self.code = Code(code)
