"""The one wiring idiom: `@provided` makes a process-wide, lazily built object; `reset()` forgets them all.

Every area's `runtime.py` builds what Lambda needs (clients, stores, services) with `@provided`
functions, so a warm instance reuses them across invocations. Tests and the local stack that
change the environment call `reset()`, and the next call builds everything anew. Standard
library only: the authorizer wires itself this way too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import update_wrapper
from typing import Generic, TypeVar

T = TypeVar("T")

_UNSET = object()
_providers: list[Provided[object]] = []
_resetters: list[Callable[[], None]] = []
_registry_lock = threading.Lock()


class Provided(Generic[T]):
    """A zero-argument factory whose result is built once per process (thread-safe) until `reset()`."""

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._value: object = _UNSET
        self._lock = threading.Lock()
        update_wrapper(self, factory)

    def __call__(self) -> T:
        value = self._value
        if value is _UNSET:
            with self._lock:
                value = self._value
                if value is _UNSET:
                    value = self._value = self._factory()
        return value  # type: ignore[return-value]

    def reset(self) -> None:
        with self._lock:
            self._value = _UNSET


def provided(factory: Callable[[], T]) -> Provided[T]:
    """Decorator: `factory()` runs on first call only; every later call answers the same object."""
    wrapper = Provided(factory)
    with _registry_lock:
        _providers.append(wrapper)  # type: ignore[arg-type]
    return wrapper


def on_reset(forget: Callable[[], None]) -> Callable[[], None]:
    """Register `forget` (a cache's clear) to run at every `reset()`; answers it unchanged."""
    with _registry_lock:
        _resetters.append(forget)
    return forget


def reset() -> None:
    """Forget every provided object (after the environment's endpoints, settings or credentials changed)."""
    with _registry_lock:
        providers = list(_providers)
        resetters = list(_resetters)
    for provider in providers:
        provider.reset()
    for forget in resetters:
        forget()
