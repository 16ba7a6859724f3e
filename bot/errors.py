"""The root of every error Warroom shows to a person."""


class WarroomError(Exception):
    """An error whose message is safe to show to the person who asked."""

    @property
    def user_message(self) -> str:
        """The sentence to show in Slack."""
        return str(self)
