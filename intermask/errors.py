"""The project's one exception for errors a user can cause (bad input, missing files, bad settings).

The message is a sentence that says what was wrong and what is accepted; the app shows it with
``gr.Error`` and the CLI prints it and exits with status 2.
"""


class InterMaskError(Exception):
    """A user-facing error with an actionable message."""
