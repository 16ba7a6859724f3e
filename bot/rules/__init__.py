"""Rules on incident events (`WARROOM_RULES`): when something happens to an incident that fits,
do something (invite, post, page, add a follow-up), once per event."""
