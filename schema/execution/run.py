"""Runs a `Plan`: level by level through the loaders, writing straight into response dicts.

Synchronous fields (plain attributes, `__typename`, sync resolvers) complete at once,
depth first. A resolver that returns an awaitable parks its field; when an object's tree
has no more synchronous work, every parked awaitable of the level is gathered together,
so the loaders they call batch exactly as under Strawberry's executor, and the finished
values complete in turn (which may park the next level).

Errors and nulls follow the spec's "Handling Field Errors": a field error becomes an
error with the field's path and locations and a null at the field; a null at a non-null
position nulls the nearest nullable ancestor (a `Slot`), and errors below a nulled
position are not reported, as graphql-core does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable
from inspect import isawaitable
from typing import Any

from graphql import GraphQLError, GraphQLResolveInfo, located_error
from graphql.execution.values import get_argument_values
from graphql.pyutils import Undefined, inspect
from strawberry.types.arguments import convert_arguments
from strawberry.types.info import Info

from schema.execution.drive import run_all
from schema.execution.plan import ABSTRACT, LEAF, OBJECT, Field, Plan, Shape


class Slot:
    """Where an object or list lives in the response, for paths and null propagation."""

    __slots__ = ("container", "key", "nullable", "nulled", "parent")

    def __init__(self, parent: Slot | None, container: Any, key: str | int, nullable: bool) -> None:
        self.parent, self.container, self.key, self.nullable = parent, container, key, nullable
        self.nulled = False

    def path(self) -> list[str | int]:
        keys: list[str | int] = []
        slot: Slot | None = self
        while slot is not None and slot.parent is not None:
            keys.append(slot.key)
            slot = slot.parent
        keys.reverse()
        return keys

    def dead(self) -> bool:
        slot: Slot | None = self
        while slot is not None:
            if slot.nulled:
                return True
            slot = slot.parent
        return False


class NullBubble(Exception):
    """A non-null position became null; the caller nulls the nearest nullable ancestor."""


class Run:
    """One execution of one plan for one request."""

    def __init__(self, executor: Any, plan: Plan) -> None:
        self.executor = executor
        self.plan = plan
        self.context = executor.context_value
        self.errors: list[GraphQLError] = []
        self.bubbles = 0
        self.parked: list[tuple[Awaitable[Any], Field, dict[str, Any], Slot]] = []
        self.kwargs: dict[int, dict[str, Any] | GraphQLError] = {}
        self.infos: dict[int, Info[Any, Any]] = {}
        schema = executor.schema._strawberry_schema
        self.scalars = schema.schema_converter.scalar_registry
        self.config = schema.config

    async def execute(self) -> tuple[dict[str, Any] | None, list[GraphQLError]]:
        data: dict[str, Any] = {}
        root = Slot(None, None, "", nullable=False)
        self.object(self.plan.root, self.plan.fields, self.executor.root_value, data, root)
        while self.parked:
            parked, self.parked = self.parked, []
            results = await run_all([p[0] for p in parked])
            for (_, field, target, slot), result in zip(parked, results, strict=True):
                if slot.dead():
                    continue
                if isinstance(result, BaseException) and not isinstance(result, Exception):
                    raise result
                self.settle(field, result, target, slot)
        return (None if root.nulled else data), self.errors

    # ----------------------------------------------------------------- objects

    def object(
        self, type_name: str, fields: list[Field], source: Any, target: dict[str, Any], slot: Slot
    ) -> None:
        for field in fields:
            leaf = field.leaf
            if leaf is not None:  # a plain attribute of leaf type, the most common field
                try:
                    value = _read(source, field.attribute)  # type: ignore[arg-type]
                    if value is not None:
                        target[field.key] = leaf(value)
                        continue
                    if field.shape[1]:
                        raise TypeError(
                            "Cannot return null for non-nullable field"
                            f" {field.parent}.{field.name}."
                        )
                    target[field.key] = None
                except Exception as error:
                    target[field.key] = None
                    if not self.field_error(field, error, slot):
                        return
                continue
            if field.name == "__typename":
                target[field.key] = type_name
                continue
            try:
                value = self.resolve(field, source)
            except Exception as error:
                target[field.key] = None
                if not self.field_error(field, error, slot):
                    return
                continue
            if field.is_async or isawaitable(value):
                target[field.key] = None
                self.parked.append((value, field, target, slot))
                continue
            if not self.settle(field, value, target, slot):
                return

    def settle(self, field: Field, value: Any, target: dict[str, Any], slot: Slot) -> bool:
        """Complete a resolved value into `target`; False when `slot`'s object was nulled."""
        try:
            if isinstance(value, Exception):
                raise value
            target[field.key] = self.complete(field, field.shape, value, slot, target, field.key)
        except NullBubble:
            return False
        except Exception as error:
            target[field.key] = None
            return self.field_error(field, error, slot)
        return True

    def field_error(self, field: Field, error: Exception, slot: Slot) -> bool:
        """Report a field error of `slot`'s object; False when that object was nulled."""
        if not slot.dead():
            self.errors.append(located_error(error, field.nodes, [*slot.path(), field.key]))
        if field.shape[1]:
            self.bubble(slot)
            return False
        return True

    def bubble(self, slot: Slot) -> None:
        """Null the nearest nullable position at or above `slot` (the root at worst)."""
        self.bubbles += 1
        current = slot
        while not current.nullable and current.parent is not None:
            current = current.parent
        current.nulled = True
        if current.parent is not None:
            current.container[current.key] = None

    def after_bubble(self, slot: Slot) -> None:
        """After a bubble below `slot`: None stands at `slot` when it was the nullable
        position; NullBubble tells the callers above that their object is gone."""
        if not slot.nulled and slot.dead():
            raise NullBubble

    # ----------------------------------------------------------------- resolution

    def resolve(self, field: Field, source: Any) -> Any:
        if field.attribute is not None:
            return getattr(source, field.attribute)
        kwargs = self.arguments(field)
        if field.info_name is not None:
            kwargs[field.info_name] = self.info(field)
        for name in field.source_names:
            kwargs[name] = source
        assert field.resolver is not None
        if field.takes_self:
            return field.resolver(source, **kwargs)
        return field.resolver(**kwargs)

    def arguments(self, field: Field) -> dict[str, Any]:
        """Converted once per field and request: arguments don't depend on the source."""
        cached = self.kwargs.get(id(field))
        if cached is None:
            try:
                raw = (
                    get_argument_values(
                        field.definition,  # type: ignore[arg-type]
                        field.nodes[0],
                        self.executor.variable_values,
                    )
                    if field.has_arguments
                    else {}
                )
                assert field.strawberry is not None
                cached = convert_arguments(
                    raw,
                    field.strawberry.arguments,
                    scalar_registry=self.scalars,
                    config=self.config,
                )
            except GraphQLError as error:
                cached = error
            self.kwargs[id(field)] = cached
        if isinstance(cached, GraphQLError):
            raise cached
        return dict(cached)

    def info(self, field: Field) -> Info[Any, Any]:
        info = self.infos.get(id(field))
        if info is None:
            executor = self.executor
            assert field.definition is not None and field.strawberry is not None
            raw = GraphQLResolveInfo(
                field.name,
                field.nodes,
                field.definition.type,
                executor.schema.get_type(field.parent),
                None,  # type: ignore[arg-type]  # the path differs per source; unused
                executor.schema,
                executor.fragment_definitions,
                executor.root_value,
                executor.operation,
                executor.variable_values.coerced,  # as Strawberry's resolvers receive it
                self.context,
                executor.is_awaitable,
                None,
                executor.async_helpers,
            )
            info = self.infos[id(field)] = Info(_raw_info=raw, _field=field.strawberry)
        return info

    # ----------------------------------------------------------------- completion

    def complete(
        self, field: Field, shape: Shape, value: Any, parent: Slot, container: Any, key: Any
    ) -> Any:
        kind, non_null, payload = shape
        if value is None or value is Undefined:
            if non_null:
                message = f"Cannot return null for non-nullable field {field.parent}.{field.name}."
                raise TypeError(message)
            return None
        if kind == LEAF:
            return payload(value)
        if kind == ABSTRACT:
            abstract_name, by_class = payload
            found = by_class.get(type(value))
            if found is None:
                raise TypeError(
                    f"Abstract type '{abstract_name}' must resolve to an Object type at "
                    f"runtime for field '{field.parent}.{field.name}'. Got: {inspect(value)}."
                )
            kind, payload = OBJECT, found
        bubbles = self.bubbles
        slot = Slot(parent, container, key, not non_null)
        if kind == OBJECT:
            type_name, fields = payload
            result: Any = {}
            container[key] = result
            self.object(type_name, fields, value, result, slot)
        else:
            result = self.list(field, payload, value, slot)
        if self.bubbles != bubbles:
            self.after_bubble(slot)
            if slot.nulled:
                return None
        return result

    def list(self, field: Field, item_shape: Shape, value: Any, slot: Slot) -> list[Any]:
        if isinstance(value, str | bytes | dict) or not isinstance(value, Iterable):
            raise GraphQLError(
                f"Expected Iterable, but did not find one for field '{field.parent}.{field.name}'."
            )
        items: list[Any] = []
        slot.container[slot.key] = items
        for index, item in enumerate(value):
            items.append(None)
            try:
                items[index] = self.complete(field, item_shape, item, slot, items, index)
            except NullBubble:
                if slot.nulled:  # this list was the nearest nullable position
                    return items
                raise
            except Exception as error:
                if not slot.dead():
                    self.errors.append(located_error(error, field.nodes, [*slot.path(), index]))
                if item_shape[1]:
                    self.bubble(slot)
                    return items
            if slot.nulled:
                return items
        return items


_MISSING = object()


def _read(source: Any, name: str) -> Any:
    """`getattr(source, name)`, reading a RowBacked object's row directly (schema/rows.py)
    instead of through its Python-level `__getattr__`."""
    held = getattr(source, "__dict__", None)
    if held is None:
        return getattr(source, name)
    value = held.get(name, _MISSING)
    if value is not _MISSING:
        return value
    row = held.get("row")
    return getattr(source, name) if row is None else getattr(row, name)
