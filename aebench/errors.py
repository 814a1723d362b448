"""The one exception a user's own input can cause: shown as a single line, never a traceback."""


class ConfigError(ValueError):
    """A configuration value outside what aebench allows.

    ``field`` names the offending setting as the caller knows it (``code_dim``); the
    Hydra layer prefixes its config group (``model.code_dim``) with :meth:`in_group`.
    """

    def __init__(self, field: str, value, allowed: str):
        self.field, self.value, self.allowed = field, value, allowed
        super().__init__(f"{field}={value!r} is not allowed: {allowed}")

    def in_group(self, group: str) -> "ConfigError":
        if self.field.startswith(f"{group}."):
            return self
        return ConfigError(f"{group}.{self.field}", self.value, self.allowed)


class DataError(ConfigError):
    """A data file or array that cannot be used: missing, corrupt, or holding values aebench refuses.
    Its message is written whole, naming the file or value and what was expected."""

    def __init__(self, message: str):
        ValueError.__init__(self, message)
        self.field, self.value, self.allowed = "dataset", None, message

    def in_group(self, group: str) -> "DataError":
        return self


def require(condition: bool, field: str, value, allowed: str) -> None:
    """Raise :class:`ConfigError` unless ``condition`` holds."""
    if not condition:
        raise ConfigError(field, value, allowed)


def require_int(field: str, value, minimum: int | None = None, maximum: int | None = None) -> int:
    """An integer (not a bool, not a float) within [minimum, maximum]."""
    bounds = _bounds_text(minimum, maximum)
    require(isinstance(value, int) and not isinstance(value, bool), field, value, f"an integer{bounds}")
    require(minimum is None or value >= minimum, field, value, f"an integer{bounds}")
    require(maximum is None or value <= maximum, field, value, f"an integer{bounds}")
    return value


def require_number(field: str, value, minimum: float | None = None, maximum: float | None = None,
                   open_minimum: bool = False, open_maximum: bool = False) -> float:
    """A finite real number within the given bounds (closed unless ``open_*``)."""
    lower = "" if minimum is None else f"{'>' if open_minimum else '>='} {minimum}"
    upper = "" if maximum is None else f"{'<' if open_maximum else '<='} {maximum}"
    allowed = "a number" + (" " + " and ".join(b for b in (lower, upper) if b) if lower or upper else "")
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value == value
    ok = ok and abs(value) != float("inf")
    if ok and minimum is not None:
        ok = value > minimum if open_minimum else value >= minimum
    if ok and maximum is not None:
        ok = value < maximum if open_maximum else value <= maximum
    require(ok, field, value, allowed)
    return float(value)


def require_widths(field: str, values) -> list[int]:
    """A non-empty list of positive integers (layer widths, channel counts)."""
    require(not isinstance(values, (str, bytes)) and hasattr(values, "__iter__"), field, values,
            "a list of one or more positive integers, such as [48,32]")
    values = list(values)
    require(len(values) >= 1, field, values, "a list of one or more positive integers")
    for value in values:
        require_int(field, value, minimum=1)
    return values


def require_choice(field: str, value, choices) -> str:
    require(value in choices, field, value, "one of " + ", ".join(map(str, choices)))
    return value


def _bounds_text(minimum, maximum) -> str:
    if minimum is not None and maximum is not None:
        return f" from {minimum} to {maximum}"
    if minimum is not None:
        return f" >= {minimum}"
    if maximum is not None:
        return f" <= {maximum}"
    return ""


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite: the run is stopped and marked FAILED."""
