"""User-facing errors: raised for bad input, printed by the CLI without a traceback."""


class ReproError(Exception):
    """An error the user can fix (bad spec, unknown experiment, missing result...)."""


class SpecError(ReproError):
    """A malformed experiment spec or dopesheet; the message names the file and field."""


class IneffectiveOverride(UserWarning):
    """An override that cannot change the result it was meant to change; the message says why."""


class TrainingDiverged(ReproError):
    """The loss became non-finite; the message names the step."""


def first_line(error: BaseException, most: int = 200) -> str:
    """An exception's first line, printable characters only, for a one-line message (a library's
    own text may run to many lines and carry terminal escapes)."""
    line = (str(error).strip().splitlines() or [""])[0]
    return "".join(c for c in line if c.isprintable())[:most]
