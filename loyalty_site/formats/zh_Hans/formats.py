"""Amounts grouped by thousands, as prices are written in Taiwan, Hong Kong and China (NT$125,000);
the dates are Django's own (2026年11月29日)."""

DECIMAL_SEPARATOR = "."
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
