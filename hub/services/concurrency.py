"""Races between writers of the same new object."""

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.db import IntegrityError

P = ParamSpec("P")
R = TypeVar("R")


def retry_on_unique_race(write: Callable[P, R]) -> Callable[P, R]:
    """Retry a transactional write once when its INSERT lost a race on a unique key.

    Two first PUTs of the same new object can both find no row and both insert; the loser's
    transaction rolls back on the unique constraint, and on the retry it finds the winner's
    row and applies as an update (or as a stale no-op). Wrap outside `transaction.atomic`.
    """

    @functools.wraps(write)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return write(*args, **kwargs)
        except IntegrityError:
            return write(*args, **kwargs)

    return wrapper
