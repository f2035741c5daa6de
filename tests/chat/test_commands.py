"""The command table is the one place a command is defined: each row's examples are read as its own
kind, every kind a message can be read as has a row, handlers return (state, replies) without
changing the state they were given, and which kinds are cheap is the table's word."""
from __future__ import annotations

import pytest

from idia_core.chat import new_session
from idia_core.chat.commands import COMMAND, COMMANDS, closest_command, is_cheap, parse
from idia_core.chat.intents import Intent


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.kind)
def test_each_example_is_read_as_its_own_command(command):
    assert callable(command.handler)
    for example in command.examples:
        assert parse(example).kind == command.kind, example


def test_every_kind_a_message_can_be_read_as_has_a_row():
    messages = ["", "help", "x" * 10_000, "tau 3", "make it looser", "open https://h/?idia=1&name=A+B",
                "compare models a, b", "add A B", "remove A B", "who is this?", "Jane Doe", "what is tau?",
                "thanks", "undo", "clear photos", "qwzx vbnm", "as in the paper", "settings", "report"]
    kinds = {parse(m).kind for m in messages}
    assert kinds <= set(COMMAND) and len(kinds) >= 17
    assert len(COMMAND) == len(COMMANDS)   # one row per kind


def test_handlers_return_the_next_state_and_leave_the_given_one():
    state = new_session()
    after, replies = COMMAND["who_is_this"].handler(Intent("who_is_this"), state, progress=None, base_url="",
                                                    photos_changed=False)
    assert after.awaiting_name and not state.awaiting_name and replies and replies[0].kind == "info"


def test_cheap_commands_are_the_tables_word():
    assert {c.kind for c in COMMANDS if c.cheap} == {"help", "status", "share", "report", "explain", "reset",
                                                     "clear_photos", "open_link", "unknown", "none"}
    assert is_cheap("help") and not is_cheap("set") and not is_cheap("a kind added later")
    assert closest_command("tua 3") == "tau 3" and closest_command("reprot") == "report"
