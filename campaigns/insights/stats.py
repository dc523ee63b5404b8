"""How sure a comparison is. A campaign's reached members against those held back: the difference
of their return rates with a 95% interval (Newcombe's method from two Wilson intervals, which stays
honest for small groups and rates near 0 or 100%), and no verdict at all below a minimum sample."""

import math
from dataclasses import dataclass

Z95 = 1.959964
# Fewer members than this in either group: "too few members to tell".
MIN_GROUP = 30


def wilson(successes: int, total: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion, as fractions."""
    if total <= 0:
        return 0.0, 1.0
    p = successes / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Uplift:
    """Percentage points by which the reached group's rate beats the held-back group's."""

    enough: bool  # both groups at least MIN_GROUP
    lift: float | None = None  # percentage points
    low: float | None = None
    high: float | None = None
    minimum: int = MIN_GROUP

    @property
    def clear(self) -> bool:
        """The interval leaves out zero: the campaign made a difference, one way or the other."""
        return self.enough and (self.low > 0 or self.high < 0)


def uplift(reached: int, reached_back: int, held: int, held_back: int) -> Uplift:
    if reached < MIN_GROUP or held < MIN_GROUP:
        return Uplift(enough=False)
    p1, p2 = reached_back / reached, held_back / held
    l1, u1 = wilson(reached_back, reached)
    l2, u2 = wilson(held_back, held)
    diff = p1 - p2
    low = diff - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = diff + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return Uplift(enough=True, lift=round(100 * diff, 1), low=round(100 * low, 1), high=round(100 * high, 1))
