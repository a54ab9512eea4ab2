"""The one exception type that reaches users as a single line."""


class StylepipeError(Exception):
    """A problem with the user's input or configuration.

    The message is complete on its own: what is wrong, with which file or key, and what to do.
    Entry points print it as one line and exit non-zero instead of showing a traceback.
    """


class ConfigKeyError(StylepipeError):
    """A bad config value; `key` is its dotted path (without any variant prefix), so a batch sheet can name the column."""

    def __init__(self, message: str, key: str) -> None:
        super().__init__(message)
        self.key = key
