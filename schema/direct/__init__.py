"""Direct plans: queries over customer tables answered straight from SQL rows.

The executor (schema/execution) resolves a query field by field through Strawberry's
resolvers and the loaders. For the read shapes clients send most (pages of customers,
their subscriptions and instances, a customer by id) a direct plan does the same work the
way a hand-written endpoint would: it runs the resolvers' own statements, selecting only
the columns the query reads, on a connection of its own (models/reads.py), and builds the
response from the rows with a projector compiled per selection. Any query it does not
cover, and any request it does not take to the end, goes to the executor; the answers are
the same (tests/test_direct_reads.py runs both ways and compares them).
"""

from schema.direct.errors import Fallback
from schema.direct.lane import DIRECT, DirectLane, Prepared

__all__ = ["DIRECT", "DirectLane", "Fallback", "Prepared"]
