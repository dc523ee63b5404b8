"""Insights: what the loyalty program does for the shop. ``rollup`` counts each day once into
``ShopDay`` and ``StaffDay`` (and counts today live the same way); ``figures`` reads them for the
pages; ``charts`` draws them as SVG; ``segments`` sorts members into regulars, new, at risk and
lapsed; ``export`` writes any table as CSV."""
