"""Errors a user can fix. The CLI and the chat show them as one line, no traceback."""


class AssistantError(Exception):
    """A problem with a message that says what to do next."""


class IndexMissing(AssistantError):
    """There is no index where one was expected."""


class IndexMismatch(AssistantError):
    """The index was built differently (model, format) from what is asked for now."""


class IndexDamaged(AssistantError):
    """The index files are incomplete or do not match their manifest."""


class BadQuestion(AssistantError):
    """The question cannot be searched (empty, too long, ...)."""
