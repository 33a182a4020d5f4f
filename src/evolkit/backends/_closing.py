"""The end of ``async with backend:`` for a backend that holds connections or a server."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING

__all__ = ["ClosedOnExit"]


class ClosedOnExit:
    """Leaving ``async with`` closes the backend (its ``aclose``), whatever happened inside."""

    if TYPE_CHECKING:

        async def aclose(self) -> None: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
