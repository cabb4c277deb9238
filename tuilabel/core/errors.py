"""Errors that are the user's input, not our bug: shown as one clear line, never a traceback."""


class UserError(Exception):
    """Bad input from the user (a file, a flag, a name). The message is the whole story."""
