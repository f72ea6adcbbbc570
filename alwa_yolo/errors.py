"""Errors a user can fix: the scripts print their message as one paragraph, without a traceback."""


class UserError(ValueError):
    """Bad input from the user (a path, a file, an option): the message names the problem and the fix.

    A ``ValueError``, so Python callers (``ALWADetectionTrainer(overrides=...)``) can catch it as the usual
    bad-argument error; ``train.py`` / ``val.py`` print it as one ``error:`` paragraph and exit with status 2.
    """


class ConversionError(UserError):
    """A dataset converter's input exists but cannot be converted (malformed XML/JSON, unknown class, bad image)."""


class InputNotFoundError(UserError, FileNotFoundError):
    """A required input (source folder, image, annotation, image list) does not exist."""

    def __str__(self) -> str:
        """Show only the message: the default ``FileNotFoundError`` text would prefix ``[Errno None]``."""
        return str(self.args[0]) if self.args else ""
