"""Errors a user can fix: the scripts print their message as one paragraph, without a traceback."""


class UserError(Exception):
    """Bad input from the user (a path, a file, an option): the message names the problem and the fix."""
