"""Pure Python: no strawberry, no sqlalchemy. Parsing, validation, ids, cursors."""
