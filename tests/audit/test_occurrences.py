"""``occurrences``: caption counts per full name — whole words, any case, Unicode-normalised — on
captions whose true counts are known (hand-made, and the sandbox world's own training captions)."""
from __future__ import annotations

import csv
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from idia_core.audit.occurrences import NameMatcher, count_occurrences
from idia_core.cli.main import main
from idia_core.errors import IdiaInputError
from idia_core.sandbox.world import caption_counts, load_world


def _write(path, texts, column="TEXT", row_group_size=None):
    pq.write_table(pa.table({column: pa.array(texts, pa.string())}), path, row_group_size=row_group_size)
    return path


def _labels(path) -> dict[str, int]:
    with open(path, newline="", encoding="utf-8") as f:
        return {r["name"]: int(r["occurrences"]) for r in csv.DictReader(f)}


@pytest.fixture(scope="module")
def sandbox_captions(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sandbox-captions")
    assert main(["sandbox", "captions", "--out", str(folder / "captions.parquet"),
                 "--names-out", str(folder / "names.txt")]) == 0
    return folder


def test_a_prefix_of_a_longer_name_is_not_counted(tmp_path):
    """The kind the paper's pandas ``str.contains`` got wrong: 20 captions name "Fn252 Ln1", 80
    name "Fn252 Ln10" … "Fn252 Ln199"; a substring count says 100."""
    texts = ([f"photo of Fn252 Ln1 at event {i}" for i in range(20)]
             + [f"Fn252 Ln{n} on stage" for n in [*range(10, 20), *range(100, 170)]])
    captions = _write(tmp_path / "c.parquet", texts, row_group_size=16)
    (tmp_path / "names.txt").write_text("Fn252 Ln1\nFn252 Ln10\nFn252 Ln2\n", encoding="utf-8")
    outcome = count_occurrences(captions, tmp_path / "names.txt", tmp_path / "labels.csv", chunk_rows=32)
    assert _labels(tmp_path / "labels.csv") == {"Fn252 Ln1": 20, "Fn252 Ln10": 1, "Fn252 Ln2": 0}
    naive = sum("Fn252 Ln1" in t for t in texts)
    assert naive == 100
    evidence = json.loads(outcome.evidence.read_text(encoding="utf-8"))
    assert evidence["rows"] == 100
    assert evidence["names"][0]["sample_rows"] == ["0", "1", "2", "3", "4"]
    assert evidence["names"][1]["sample_rows"] == ["20"]


@pytest.mark.parametrize("caption, found", [
    ("fn252 LN1 smiling", True),                      # case
    ("Fn252\n  Ln1", True),                           # any white space between the words
    ("Ｆｎ２５２ Ｌｎ１", True),                          # full-width forms (NFKC)
    ("«Fn252 Ln1», 2019", True),                      # punctuation around it
    ("Fn252 Ln1's dog", True),                         # a possessive
    ("XFn252 Ln1", False),                             # inside a longer word
    ("Fn252 Ln1x", False),
    ("Fn252 Ln1-Smith", False),                        # a double-barrelled surname is another name
    ("Fn252_Ln1", False),
    ("Fn252Ln1", False),
])
def test_whole_words_any_case_normalised(caption, found):
    matcher = NameMatcher.of(["Fn252 Ln1"])
    assert bool(matcher.find(caption)) is found


def test_accents_are_kept_and_composed_forms_match():
    matcher = NameMatcher.of(["Zoë Saldaña"])
    assert matcher.find("ZOË SALDAÑA at the premiere") == {0}
    assert matcher.find("Zoe\u0308 Saldan\u0303a at the premiere") == {0}      # decomposed: the same name
    assert matcher.find("Zoe Saldana at the premiere") == set()                # another name to the tokenizer


def test_the_sandbox_captions_count_each_persons_k(sandbox_captions):
    """The sandbox's truth: a member's name is in k training captions, a name-only control's in k,
    a trap's in trap_k, everyone else's in none."""
    out = sandbox_captions / "labels.csv"
    outcome = count_occurrences(sandbox_captions / "captions.parquet", sandbox_captions / "names.txt", out,
                                chunk_rows=3000)
    truth = caption_counts(load_world())
    assert _labels(out) == truth
    assert outcome.counts.rows == pq.ParquetFile(sandbox_captions / "captions.parquet").metadata.num_rows
    assert any(k > 0 for k in truth.values()) and any(k == 0 for k in truth.values())


def test_an_existing_labels_file_gets_its_occurrences_column(sandbox_captions, tmp_path, capsys):
    world = load_world()
    member = next(p for p in world.people if p.role == "member")
    outsider = next(p for p in world.people if p.role == "non-member")
    labels = tmp_path / "labels.csv"
    labels.write_text(f"name,member,group\n{member.name},1,a\n{outsider.name},0,b\n", encoding="utf-8")
    assert main(["occurrences", str(sandbox_captions / "captions.parquet"), "--names",
                 str(sandbox_captions / "names.txt"), "--out", str(labels), "--no-progress"]) == 0
    assert "captions/s" in capsys.readouterr().out
    with open(labels, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert rows == [{"name": member.name, "member": "1", "group": "a", "occurrences": str(member.k)},
                    {"name": outsider.name, "member": "0", "group": "b", "occurrences": "0"}]


def test_bad_caption_input(tmp_path):
    names = tmp_path / "names.txt"
    names.write_text("Jane Doe\n", encoding="utf-8")
    cases = {
        "captions_missing": tmp_path / "nothing.parquet",
        "captions_unreadable": tmp_path / "text.parquet",
        "captions_column": _write(tmp_path / "other.parquet", ["Jane Doe"], column="caption"),
        "captions_column_type": tmp_path / "ints.parquet",
    }
    (tmp_path / "text.parquet").write_text("not parquet at all")
    pq.write_table(pa.table({"TEXT": pa.array([1, 2], pa.int64())}), tmp_path / "ints.parquet")
    for code, path in cases.items():
        with pytest.raises(IdiaInputError) as err:
            count_occurrences(path, names, tmp_path / "labels.csv")
        assert err.value.code == code
    good = _write(tmp_path / "good.parquet", ["Jane Doe"])
    (tmp_path / "empty.txt").write_text("# nobody\n\n", encoding="utf-8")
    for bad_names in (tmp_path / "empty.txt", tmp_path / "absent.txt"):
        with pytest.raises(IdiaInputError) as err:
            count_occurrences(good, bad_names, tmp_path / "labels.csv")
        assert err.value.code == "occurrences_names"
    assert not (tmp_path / "labels.csv").exists()


def test_the_cli_says_which_column_is_missing(tmp_path, capsys):
    captions = _write(tmp_path / "c.parquet", ["Jane Doe"], column="caption")
    (tmp_path / "names.txt").write_text("Jane Doe\n", encoding="utf-8")
    assert main(["occurrences", str(captions), "--names", str(tmp_path / "names.txt")]) == 2
    err = capsys.readouterr().err
    assert "no column 'TEXT'" in err and "caption" in err and "--column" in err
