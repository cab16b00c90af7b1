"""The one way a direct plan gives a request up."""

from __future__ import annotations


class Fallback(Exception):
    """This request is answered by the executor instead: an argument a resolver refuses, a
    stored value the plan does not expect. Nothing was answered yet, and reads change nothing."""
