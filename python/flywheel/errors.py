"""The one exception type flywheel raises for problems a user can fix."""


class FlywheelError(Exception):
    """A problem with the user's input or setup.

    The CLI prints ``str(error)`` on one line and exits with status 2, so the message must say
    what is wrong and what to do about it.
    """
