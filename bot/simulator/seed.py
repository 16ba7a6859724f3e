"""The people and channels every simulated workspace starts with."""

from dataclasses import replace

from .workspace import Channel, Team, User, Workspace

GENERAL_ID = "C0GENERAL"
BROADCAST_ID = "C0BROADCAST"
OTHER_TEAM = Team("T0OTHER", "Other", "other")
OUTSIDER_ID = "U0OUTSIDER"


def seed_users(ws: Workspace) -> None:
    """Add the bot, the seeded people, and one person of another workspace."""
    team = ws.team_id
    bot = User(id=ws.bot_user_id, name="warroom", real_name="Warroom", team_id=team, is_bot=True)
    people = [
        bot,
        person("U0ALICE", "alice", team),
        person("U0BOB", "bob", team),
        replace(person("U0CAROL", "carol", team), tz="Europe/Berlin", tz_offset=3600),
        person("U0DAVE", "dave", team),
        replace(person("U0GUEST", "guest", team), is_restricted=True),
    ]
    ws.users.update((user.id, user) for user in people)
    seed_outsider(ws)


def seed_outsider(ws: Workspace) -> None:
    """Add a person of another workspace who can sign in with Slack but is no member here,
    so a console can show it refuses them (kept out of ws.users: no channel, no users.info)."""
    ws.other_teams[OTHER_TEAM.id] = OTHER_TEAM
    outsider = replace(
        person(OUTSIDER_ID, "oscar", OTHER_TEAM.id), real_name="Oscar Outsider", email="oscar@other.example"
    )
    ws.outsiders[outsider.id] = outsider


def person(user_id: str, name: str, team_id: str) -> User:
    """A person with the defaults: real name from the handle, mail at example.com."""
    return User(
        id=user_id,
        name=name,
        real_name=name.capitalize(),
        team_id=team_id,
        email=f"{name}@example.com",
    )


def seed_channels(ws: Workspace) -> None:
    """Add #general (everyone) and #incidents (the bot's broadcast channel)."""
    people = [user.id for user in ws.users.values() if not user.is_bot]
    ws.channels[GENERAL_ID] = Channel(
        id=GENERAL_ID,
        name="general",
        creator=people[0] if people else ws.bot_user_id,
        is_general=True,
        members=[*people, ws.bot_user_id],
    )
    ws.channels[BROADCAST_ID] = Channel(
        id=BROADCAST_ID, name="incidents", creator=ws.bot_user_id, members=[ws.bot_user_id]
    )
