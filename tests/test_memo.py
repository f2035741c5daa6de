"""The one bounded memo: least recently used out first, and safe under threads."""
import doctest
import threading

import idia_core.memo as memo
from idia_core.memo import BoundedMemo


def test_the_examples_in_the_docstring_hold():
    result = doctest.testmod(memo)
    assert result.attempted >= 2 and result.failed == 0


def test_it_stays_bounded_under_threads_and_makes_each_missing_value_once_per_miss():
    m = BoundedMemo(8)
    made = []

    def work(offset):
        for i in range(200):
            m.get_or_put((offset + i) % 12, lambda k=(offset + i) % 12: made.append(k) or k * k)

    threads = [threading.Thread(target=work, args=(j,)) for j in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(m) == 8 and all(m.get(k) == k * k for k in m.keys())
    assert m.pop("absent", "d") == "d" and m.get(m.keys()[0]) is not None
