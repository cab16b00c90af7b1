"""The per-request Context: who is asking, the unit of work, the loaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from strawberry.types import Info as StrawberryInfo

from models.db import UnitOfWork
from resolvers.auth import Principal
from resolvers.events import EventBus
from resolvers.loaders import Loaders


@dataclass(slots=True)
class Context:
    principal: Principal
    uow: UnitOfWork
    secret: bytes
    bus: EventBus
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.uow, self.secret)


Info = StrawberryInfo[Context, Any]
