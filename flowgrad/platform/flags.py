"""``tf.app.flags`` / ``tf.flags``: absl-style command-line flags, without absl.

    flags = tf.app.flags
    flags.DEFINE_integer("steps", 100, "Number of training steps.")
    FLAGS = flags.FLAGS
    ...
    print(FLAGS.steps)       # parses sys.argv on first access, as TF1's FLAGS does

Accepted forms: ``--name=value``, ``--name value``, ``-name=value``; booleans also as
``--name`` / ``--noname``; ``--`` ends flag parsing; ``--help`` (``-h``, ``--helpfull``)
prints the flags and exits.
"""

from __future__ import annotations

import sys
from typing import Any, Callable


class Error(Exception):
    """Base class of flag errors."""


class DuplicateFlagError(Error):
    pass


class IllegalFlagValueError(Error):
    pass


class UnrecognizedFlagError(Error):
    pass


class UnparsedFlagAccessError(Error):
    pass


class ValidationError(Error):
    pass


_TRUE = ("true", "t", "1", "yes", "y")
_FALSE = ("false", "f", "0", "no", "n")


def _parse_bool(text) -> bool:
    if isinstance(text, bool):
        return text
    s = str(text).strip().lower()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise ValueError(f"expected a boolean (true/false/1/0), got {text!r}")


class Flag:
    """One flag: its name, parser, default, help text and current value."""

    def __init__(self, name: str, default, help_: str, parser: Callable[[Any], Any],
                 kind: str, short_name: str | None = None, boolean: bool = False,
                 module: str = "") -> None:
        self.name, self.help, self.parser, self.kind = name, help_ or "", parser, kind
        self.short_name, self.boolean, self.module = short_name, boolean, module
        self.default = None if default is None else self._convert(default)
        self.value = self.default
        self.present = 0
        self.validators: list[tuple[Callable, str]] = []

    def _convert(self, raw):
        try:
            return self.parser(raw)
        except (ValueError, TypeError) as e:
            raise IllegalFlagValueError(f"flag --{self.name}={raw!r}: {e}") from None

    def parse(self, raw) -> None:
        self.value = self._convert(raw)
        self.present += 1

    def __repr__(self) -> str:
        return f"<Flag --{self.name}={self.value!r}>"


class FlagValues:
    """The flag registry; attribute access reads a flag's value (parsing argv lazily)."""

    def __init__(self) -> None:
        object.__setattr__(self, "_flags", {})
        object.__setattr__(self, "_parsed", False)

    # --- definition -------------------------------------------------------------------
    def _define(self, flag: Flag) -> Flag:
        flags = self._flags
        for key in filter(None, (flag.name, flag.short_name)):
            if key in flags:
                raise DuplicateFlagError(
                    f"The flag '{key}' is defined twice (first in module "
                    f"{flags[key].module or '?'}). Define each flag once, or call "
                    f"FLAGS.remove_flag_values(['{key}']) / tf.app.flags.FLAGS.__delattr__"
                    f"('{key}') before redefining it.")
        flags[flag.name] = flag
        if flag.short_name:
            flags[flag.short_name] = flag
        return flag

    def __delattr__(self, name: str) -> None:
        flag = self._flags.pop(name, None)
        if flag is None:
            raise AttributeError(name)
        for k in [k for k, v in self._flags.items() if v is flag]:
            del self._flags[k]

    def remove_flag_values(self, names) -> None:
        for n in names:
            if n in self._flags:
                delattr(self, n)

    # --- access -----------------------------------------------------------------------
    def __getattr__(self, name: str):
        flags = object.__getattribute__(self, "_flags")
        if name == "__flags":           # old TF1 code iterates FLAGS.__flags
            if not object.__getattribute__(self, "_parsed"):
                self(sys.argv, known_only=True)
            return dict(flags)
        if name not in flags:
            raise AttributeError(f"Unknown command line flag '{name}'")
        if not object.__getattribute__(self, "_parsed"):
            self(sys.argv, known_only=True)
        return flags[name].value

    def __setattr__(self, name: str, value) -> None:
        if name not in self._flags:
            raise AttributeError(f"Unknown command line flag '{name}'; define it first")
        self._flags[name].value = value

    def __getitem__(self, name: str) -> Flag:
        return self._flags[name]

    def __contains__(self, name: str) -> bool:
        return name in self._flags

    def __iter__(self):
        return iter(self._flags)

    def __len__(self) -> int:
        return len(self._flags)

    def _parse_flags(self, args=None) -> list[str]:
        """TF <= 1.4's private parse call: parses ``args`` (default ``sys.argv[1:]``)
        ignoring unknown flags; returns the arguments left over."""
        return self([sys.argv[0]] + list(sys.argv[1:] if args is None else args),
                    known_only=True)[1:]

    def is_parsed(self) -> bool:
        return self._parsed

    def mark_as_parsed(self) -> None:
        object.__setattr__(self, "_parsed", True)

    def unparse_flags(self) -> None:
        for f in set(self._flags.values()):
            f.value, f.present = f.default, 0
        object.__setattr__(self, "_parsed", False)

    def flag_values_dict(self) -> dict:
        return {name: f.value for name, f in self._flags.items() if name == f.name}

    def get_flag_value(self, name: str, default):
        return self._flags[name].value if name in self._flags else default

    def set_default(self, name: str, value) -> None:
        f = self._flags[name]
        f.default = f._convert(value)
        if not f.present:
            f.value = f.default

    # --- parsing ----------------------------------------------------------------------
    def __call__(self, argv, known_only: bool = False) -> list[str]:
        """Parses ``argv`` (``argv[0]`` is the program); returns ``[argv[0]] + the rest``."""
        if isinstance(argv, str):
            raise TypeError("argv must be a list of strings, not a string")
        argv = list(argv)
        prog, args = (argv[0] if argv else ""), argv[1:]
        rest: list[str] = []
        unknown: list[str] = []
        i = 0
        while i < len(args):
            arg = args[i]
            i += 1
            if arg == "--":
                rest.extend(args[i:])
                break
            if not arg.startswith("-") or arg == "-":
                rest.append(arg)
                continue
            body = arg.lstrip("-")
            name, eq, value = body.partition("=")
            if name in ("help", "h", "helpfull", "helpshort", "?"):
                print(self.help_text(prog))
                sys.exit(0)
            flag = self._flags.get(name)
            if flag is None and name.startswith("no") and not eq:
                neg = self._flags.get(name[2:])
                if neg is not None and neg.boolean:
                    neg.parse(False)
                    continue
            if flag is None:
                if known_only:
                    unknown.append(arg)
                    continue
                raise UnrecognizedFlagError(f"Unknown command line flag '{name}'"
                                            f"{self._suggest(name)}")
            if not eq:
                if flag.boolean:
                    flag.parse(True)
                    continue
                if i >= len(args):
                    raise IllegalFlagValueError(f"flag --{name} needs a value")
                value = args[i]
                i += 1
            flag.parse(value)
        object.__setattr__(self, "_parsed", True)
        self._validate()
        return [prog] + unknown + rest

    def _suggest(self, name: str) -> str:
        import difflib  # noqa: PLC0415
        close = difflib.get_close_matches(name, list(self._flags), n=1)
        return f". Did you mean: {close[0]} ?" if close else ""

    def _validate(self) -> None:
        for f in set(self._flags.values()):
            for check, message in f.validators:
                if not check(f.value):
                    raise IllegalFlagValueError(f"flag --{f.name}={f.value!r}: {message}")

    def help_text(self, prog: str = "") -> str:
        lines = [f"usage: {prog} [flags]", "", "flags:"]
        for name, f in sorted(self._flags.items()):
            if name != f.name:
                continue
            short = f" (-{f.short_name})" if f.short_name else ""
            lines.append(f"  --{'[no]' if f.boolean else ''}{name}{short}: {f.help}")
            lines.append(f"    (default: {f.default!r})")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<FlagValues with {len(self.flag_values_dict())} flags>"


FLAGS = FlagValues()


def _caller_module() -> str:
    frame = sys._getframe(3)
    return frame.f_globals.get("__name__", "")


def _define(name, default, help_, parser, kind, flag_values, short_name=None, boolean=False):
    fv = FLAGS if flag_values is None else flag_values
    return fv._define(Flag(name, default, help_, parser, kind, short_name, boolean,
                           _caller_module()))


def _bounded(parser, lower, upper):
    def parse(raw):
        v = parser(raw)
        if lower is not None and v < lower:
            raise ValueError(f"{v} is less than the lower bound {lower}")
        if upper is not None and v > upper:
            raise ValueError(f"{v} is greater than the upper bound {upper}")
        return v
    return parse


def DEFINE_string(name, default, help, flag_values=None, short_name=None, **kwargs):  # noqa: A002,N802
    """Defines a string flag."""
    return _define(name, default, help, str, "string", flag_values, short_name)


def DEFINE_integer(name, default, help, lower_bound=None, upper_bound=None,  # noqa: A002,N802
                   flag_values=None, short_name=None, **kwargs):
    """Defines an integer flag (optionally bounded)."""
    return _define(name, default, help, _bounded(lambda v: int(str(v), 0) if isinstance(v, str)
                                                 else int(v), lower_bound, upper_bound),
                   "integer", flag_values, short_name)


def DEFINE_float(name, default, help, lower_bound=None, upper_bound=None,  # noqa: A002,N802
                 flag_values=None, short_name=None, **kwargs):
    """Defines a float flag (optionally bounded)."""
    return _define(name, default, help, _bounded(float, lower_bound, upper_bound), "float",
                   flag_values, short_name)


def DEFINE_boolean(name, default, help, flag_values=None, short_name=None, **kwargs):  # noqa: A002,N802
    """Defines a boolean flag: ``--name``, ``--noname`` or ``--name=true/false``."""
    return _define(name, default, help, _parse_bool, "bool", flag_values, short_name,
                   boolean=True)


DEFINE_bool = DEFINE_boolean


def _parse_list(raw) -> list[str]:
    if isinstance(raw, list | tuple):
        return [str(v) for v in raw]
    s = str(raw).strip()
    return [p.strip() for p in s.split(",")] if s else []


def DEFINE_list(name, default, help, flag_values=None, short_name=None, **kwargs):  # noqa: A002,N802
    """Defines a comma-separated list of strings flag."""
    return _define(name, default, help, _parse_list, "list", flag_values, short_name)


def DEFINE_enum(name, default, enum_values, help, flag_values=None, short_name=None,  # noqa: A002,N802
                case_sensitive: bool = True, **kwargs):
    """Defines a string flag whose value must be one of ``enum_values``."""
    if not enum_values:
        raise ValueError("enum_values cannot be empty")
    values = list(enum_values)

    def parse(raw):
        s = str(raw)
        if case_sensitive and s in values:
            return s
        if not case_sensitive:
            for v in values:
                if v.lower() == s.lower():
                    return v
        raise ValueError(f"value should be one of <{'|'.join(values)}>")
    return _define(name, default, help, parse, "enum", flag_values, short_name)


def _multi(parser):
    def parse(raw):
        items = raw if isinstance(raw, list | tuple) else [raw]
        return [parser(v) for v in items]
    return parse


class _MultiFlag(Flag):
    """A flag given several times accumulates its values (``--x=1 --x=2``)."""

    def parse(self, raw) -> None:
        new = self._convert(raw)
        self.value = (list(self.value) if self.present else []) + new
        self.present += 1


def DEFINE_multi_string(name, default, help, flag_values=None, **kwargs):  # noqa: A002,N802
    fv = FLAGS if flag_values is None else flag_values
    return fv._define(_MultiFlag(name, default, help, _multi(str), "multi_string"))


def DEFINE_multi_integer(name, default, help, flag_values=None, **kwargs):  # noqa: A002,N802
    fv = FLAGS if flag_values is None else flag_values
    return fv._define(_MultiFlag(name, default, help, _multi(int), "multi_integer"))


def register_validator(flag_name, checker, message="Flag validation failed",
                       flag_values=None) -> None:
    """Adds a check run after parsing: ``checker(value)`` must be true."""
    fv = FLAGS if flag_values is None else flag_values
    fv[flag_name].validators.append((checker, message))


def mark_flag_as_required(flag_name, flag_values=None) -> None:
    """The flag must be given a non-None value on the command line."""
    register_validator(flag_name, lambda v: v is not None,
                       f"flag --{flag_name} must be specified", flag_values)


def mark_flags_as_required(flag_names, flag_values=None) -> None:
    for n in flag_names:
        mark_flag_as_required(n, flag_values)
