"""The verdict words, as one enum: every surface (chat, panel, chart, report, JSON, share link,
audit table) names a verdict by a ``Verdict`` and words it by ``Verdict.word``.

A ``Verdict`` is a ``str`` (``StrEnum``): it is written to JSON, CSV and parquet as its value
("member", "non-member", …) and equals that text, so records written before it existed read the same.

>>> Verdict("member-unchecked").word
'member (controls not run)'
>>> [v.value for v in Verdict if v.rule_member]
['member', 'inconclusive', 'member-unchecked']
"""
from __future__ import annotations

from enum import StrEnum


class Verdict(StrEnum):
    """One check's verdict after the validity controls (``controls.controlled_verdict``)."""

    MEMBER = "member"                      # the rule holds and the photos beat both controls
    INCONCLUSIVE = "inconclusive"          # the rule holds, but look-alikes or random people get the name as well
    MEMBER_UNCHECKED = "member-unchecked"  # the rule holds; no reference set to run the controls
    NON_MEMBER = "non-member"              # the paper's rule does not hold

    @property
    def word(self) -> str:
        """The verdict in a word or three, for headlines and tables."""
        return _WORDS[self]

    @property
    def rule_member(self) -> bool:
        """Whether the paper's rule alone called a member (every verdict but ``NON_MEMBER``)."""
        return self is not Verdict.NON_MEMBER


_WORDS = {Verdict.MEMBER: "member", Verdict.INCONCLUSIVE: "inconclusive",
          Verdict.MEMBER_UNCHECKED: "member (controls not run)", Verdict.NON_MEMBER: "no sign"}
