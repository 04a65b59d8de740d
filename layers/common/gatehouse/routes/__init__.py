"""HTTP routes, one Powertools Router per area; functions include the routers they serve."""
