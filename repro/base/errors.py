"""User-facing errors: raised for bad input, printed by the CLI without a traceback."""


class ReproError(Exception):
    """An error the user can fix (bad spec, unknown experiment, missing result...)."""


class SpecError(ReproError):
    """A malformed experiment spec or dopesheet; the message names the file and field."""


class IneffectiveOverride(UserWarning):
    """An override that cannot change the result it was meant to change; the message says why."""


class TrainingDiverged(ReproError):
    """The loss became non-finite; the message names the step."""


def shown(text: str, most: int = 80) -> str:
    """Text a one-line message quotes (user input, a library's own words): every character that is
    not printable escaped (controls would move or recolour the terminal, format characters such
    as a right-to-left override would reorder the line), and at most `most` characters."""
    safe = "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)
    return safe if len(safe) <= most else safe[:most - 3] + "..."


def first_line(error: BaseException, most: int = 200) -> str:
    """An exception's first line, quoted safely (a library's own text may run to many lines and
    carry terminal escapes)."""
    return shown((str(error).strip().splitlines() or [""])[0], most)
