"""A name -> builder table whose errors list what is known (the pattern of timm's model registry)."""
from __future__ import annotations

import inspect
from typing import Callable, Generic, Iterable, TypeVar

from aebench.errors import ConfigError

Builder = TypeVar("Builder", bound=Callable)


class Registry(Generic[Builder]):
    """Builders of one kind (``model``, ``dataset``, ...) by name.

    ``extra_options`` are keyword arguments every builder takes through ``**kwargs``.
    """

    def __init__(self, kind: str, extra_options: Iterable[str] = ()):
        self.kind, self.extra_options = kind, tuple(extra_options)
        self._builders: dict[str, Builder] = {}

    def register(self, builder: Builder, name: str | None = None) -> Builder:
        self._builders[name or builder.__name__] = builder
        return builder

    def unregister(self, name: str) -> None:
        """Forget builder ``name`` (a plugin registered for a while, as a test does)."""
        self.get(name)
        del self._builders[name]

    def names(self) -> list[str]:
        return sorted(self._builders)

    def get(self, name: str) -> Builder:
        if name not in self._builders:
            raise ConfigError("name", name, "one of " + ", ".join(self.names()))
        return self._builders[name]

    def options(self, name: str) -> list[str]:
        """The keyword arguments builder ``name`` accepts."""
        builder = self._builders[name]
        signature = inspect.signature(builder.__init__ if inspect.isclass(builder) else builder)
        named = [p.name for p in signature.parameters.values()
                 if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and p.name != "self"]
        return named + list(self.extra_options)

    def build(self, name: str, **options):
        """``builder(**options)``; an unknown name or option raises ConfigError naming the known ones."""
        self.get(name)
        accepted = self.options(name)
        for option, value in options.items():
            if option not in accepted:
                raise ConfigError(option, value, f"not an option of {self.kind} {name}; its options are "
                                  + ", ".join(accepted))
        return self._builders[name](**options)
