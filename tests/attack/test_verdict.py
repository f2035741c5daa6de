"""The verdict words as one enum: its values are the words every record holds, its wording is the
one every surface shows."""
import doctest
import json

import idia_core.attack.verdict as verdict_module
from idia_core.attack.verdict import Verdict


def test_the_examples_in_the_docstring_hold():
    result = doctest.testmod(verdict_module)
    assert result.attempted >= 2 and result.failed == 0


def test_a_verdict_is_its_word_in_records_and_has_one_wording():
    assert [v.value for v in Verdict] == ["member", "inconclusive", "member-unchecked", "non-member"]
    assert json.loads(json.dumps({"v": Verdict.INCONCLUSIVE})) == {"v": "inconclusive"}
    assert Verdict("non-member") is Verdict.NON_MEMBER and Verdict.NON_MEMBER == "non-member"
    assert {v.word for v in Verdict} == {"member", "inconclusive", "member (controls not run)", "no sign"}
