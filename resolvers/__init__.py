"""What each field does: scope checks, validation, one query or one loader call."""
