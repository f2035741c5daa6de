"""Data-side counts: in how many training captions each full name appears — the paper's ground
truth for "how often did the model see this person" (LAION-400M metadata, the ``TEXT`` column).

Matching (``NameMatcher``): captions and names are Unicode-normalised (NFKC) and case folded;
accents are kept, as the candidate pool keeps them ("Zoë" is not "Zoe"). A name counts where it
stands as whole words — not preceded by a letter, digit or underscore, nor by one joined with a
hyphen, and not followed by one, nor by a hyphen and one ("Anna Berg" is not in "Anna
Berg-Larsen"; it is in "Anna Berg's") — and the spaces of a name match any run of white space. A
caption counts once per name however often the name appears in it. The paper counted with pandas
``str.contains`` (case-sensitive, no word boundaries), which counts "Fn252 Ln1" in every caption
of "Fn252 Ln10" … "Fn252 Ln199". Scripts written without spaces between words match only as a
whole run of letters.

One streaming pass: the caption column is read in record batches (pyarrow), never whole; each
caption is folded and split into words once, a name is considered only where its words stand in
order (a dict of word tuples), and then confirmed by its own pattern. A large file is cut into
chunks of row groups (``plan_chunks``) that run as Ray tasks under ``--engine ray``
(``ray_engine.count_on_ray``); the counts are the same either way, and the first few matching row
ids per name are kept as evidence.
"""
from __future__ import annotations

import csv
import io
import json
import re
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import IdiaInputError
from ..files import atomic_write

WORD = re.compile(r"\w+")
SAMPLES = 5                       # matching row ids kept per name, the first in file order
BATCH_ROWS = 65_536
CHUNK_ROWS = 1_000_000            # rows per chunk (whole row groups) for parallel counting
MAX_NAMES = 200_000
MAX_NAME_CHARS = 200


def fold(text: str) -> str:
    """NFKC, case folded: what both captions and names are compared as."""
    return unicodedata.normalize("NFKC", str(text)).casefold()


@dataclass(frozen=True)
class NameMatcher:
    """Every name as a tuple of folded words (``by_words``: words → indices of names) and as a
    pattern with the word boundaries of the module docstring (compiled when first needed, so a
    matcher of many names travels to Ray tasks as plain text)."""

    names: tuple[str, ...]
    sources: tuple[str, ...]
    by_words: dict
    first_words: frozenset
    lengths: tuple[int, ...]
    _compiled: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, names) -> "NameMatcher":
        names = tuple(names)
        sources, by_words = [], {}
        for i, name in enumerate(names):
            folded = fold(name)
            body = r"\s+".join(re.escape(part) for part in folded.split())
            sources.append(r"(?<!\w)(?<!\w-)" + body + r"(?!\w)(?!-\w)")
            by_words.setdefault(tuple(WORD.findall(folded)), []).append(i)
        by_words.pop((), None)
        return cls(names, tuple(sources), by_words, frozenset(k[0] for k in by_words),
                   tuple(sorted({len(k) for k in by_words})))

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k != "_compiled"}

    def __setstate__(self, state):
        self.__dict__.update(state, _compiled={})

    def _pattern(self, k: int) -> re.Pattern:
        pat = self._compiled.get(k)
        if pat is None:
            pat = self._compiled[k] = re.compile(self.sources[k])
        return pat

    def find(self, caption: str) -> set[int]:
        """Indices of the names that ``caption`` contains (module docstring)."""
        folded = fold(caption)
        words = WORD.findall(folded)
        found: set[int] = set()
        for i, word in enumerate(words):
            if word not in self.first_words:
                continue
            for n in self.lengths:
                hits = self.by_words.get(tuple(words[i:i + n]))
                if hits:
                    found.update(k for k in hits if k not in found and self._pattern(k).search(folded))
        return found


@dataclass
class Counts:
    """Captions containing each name (``counts[i]``, only names found), the first ``SAMPLES`` row
    ids of each (in file order), and the rows read."""

    counts: dict = field(default_factory=dict)
    samples: dict = field(default_factory=dict)
    rows: int = 0

    def add(self, later: "Counts") -> "Counts":
        """Merge a chunk that comes after every chunk merged so far."""
        for k, c in later.counts.items():
            self.counts[k] = self.counts.get(k, 0) + c
        for k, ids in later.samples.items():
            mine = self.samples.setdefault(k, [])
            mine.extend(ids[:SAMPLES - len(mine)])
        self.rows += later.rows
        return self

    def listed(self, n: int) -> tuple[list[int], list[list[str]]]:
        return [self.counts.get(k, 0) for k in range(n)], [self.samples.get(k, []) for k in range(n)]


@dataclass(frozen=True)
class Chunk:
    """Row groups of one parquet file: the unit a Ray task counts."""

    path: str
    row_groups: tuple[int, ...]
    first_row: int            # the chunk's first row, counted from 0 in its file (sample ids)
    label: str = ""           # prefix of sample ids when the captions span several files


@dataclass
class CaptionSource:
    files: tuple[Path, ...]
    rows: int
    chunks: tuple[Chunk, ...] = field(default=())


def open_captions(path, column: str, id_column: str | None = None, chunk_rows: int = CHUNK_ROWS) -> CaptionSource:
    """A parquet file (or a folder of them) with a text ``column``: its files, rows and chunks
    (whole row groups, about ``chunk_rows`` rows each).
    Raises ``captions_missing``, ``captions_unreadable``, ``captions_column``, ``captions_column_type``."""
    root = Path(path).expanduser()
    files = tuple(sorted(root.glob("*.parquet"))) if root.is_dir() else (root,)
    if not root.exists() or not files:
        raise IdiaInputError("captions_missing", f"No parquet file at {root} (give a .parquet file or a folder of them).")
    chunks, rows = [], 0
    for file in files:
        try:
            meta = pq.ParquetFile(file)
        except (OSError, pa.ArrowException) as exc:
            raise IdiaInputError("captions_unreadable", f"{file} cannot be read as parquet ({exc}).") from None
        schema = meta.schema_arrow
        for col in (column, id_column):
            if col is not None and col not in schema.names:
                raise IdiaInputError("captions_column", f"{file.name} has no column '{col}'; its columns are: "
                                     f"{', '.join(schema.names[:20])}. Give the caption column with --column.")
        kind = schema.field(column).type
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            raise IdiaInputError("captions_column_type", f"The column '{column}' of {file.name} holds {kind}, not text.")
        chunks += _file_chunks(file, meta.metadata, file.name if len(files) > 1 else "", chunk_rows)
        rows += meta.metadata.num_rows
    return CaptionSource(files, rows, tuple(chunks))


def _file_chunks(file: Path, meta, label: str, chunk_rows: int) -> list[Chunk]:
    """Consecutive row groups of about ``chunk_rows`` rows each."""
    out, groups, size, start = [], [], 0, 0
    for g in range(meta.num_row_groups):
        groups.append(g)
        size += meta.row_group(g).num_rows
        if size >= chunk_rows:
            out.append(Chunk(str(file), tuple(groups), start, label))
            start, groups, size = start + size, [], 0
    if groups:
        out.append(Chunk(str(file), tuple(groups), start, label))
    return out


def count_chunk(chunk: Chunk, column: str, matcher: NameMatcher, id_column: str | None = None,
                progress=None) -> Counts:
    """Count one chunk, batch by batch; ``progress(rows)`` after each batch. Row ids are the row's
    index in its file (or the ``id_column`` value)."""
    result = Counts()
    file = pq.ParquetFile(chunk.path)
    row = chunk.first_row
    columns = [column] + ([id_column] if id_column else [])
    for batch in file.iter_batches(batch_size=BATCH_ROWS, row_groups=list(chunk.row_groups), columns=columns):
        texts = batch.column(0).to_pylist()
        ids = batch.column(1).to_pylist() if id_column else None
        for j, text in enumerate(texts):
            if not text:
                continue
            for k in matcher.find(text):
                result.counts[k] = result.counts.get(k, 0) + 1
                kept = result.samples.setdefault(k, [])
                if len(kept) < SAMPLES:
                    rid = str(ids[j]) if ids is not None else str(row + j)
                    kept.append(f"{chunk.label}#{rid}" if chunk.label else rid)
        row += len(texts)
        result.rows += len(texts)
        if progress is not None:
            progress(len(texts))
    return result


def count_local(source: CaptionSource, column: str, matcher: NameMatcher, id_column: str | None = None,
                progress=None) -> Counts:
    """Every chunk in this process, in file order."""
    total = Counts()
    for chunk in source.chunks:
        total.add(count_chunk(chunk, column, matcher, id_column, progress))
    return total


def count_on_ray(source: CaptionSource, column: str, matcher: NameMatcher, id_column: str | None = None, *,
                 address: str | None = None, num_cpus: int | None = None, progress=None) -> Counts:
    """Every chunk as a Ray task (retried if its worker dies), merged in file order. The files
    must be readable where the tasks run (this machine, or storage every node mounts)."""
    from .ray_engine import RaySession  # Ray's start-up cost: only for --engine ray

    done: dict[int, Counts] = {}
    with RaySession(address, num_cpus) as ray:
        task = ray.remote(count_chunk).options(max_retries=3)
        shared = ray.put(matcher)
        pending = {task.remote(chunk, column, shared, id_column): i for i, chunk in enumerate(source.chunks)}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                done[pending.pop(ref)] = part = ray.get(ref)
                if progress is not None:
                    progress(part.rows)
    total = Counts()
    for i in sorted(done):
        total.add(done[i])
    return total


def read_names_file(path) -> list[str]:
    """Names to count: a text file (one per line; blank lines and lines starting with # skipped)
    or a CSV with a ``name`` column (e.g. the labels.csv to update). Raises ``occurrences_names``."""
    file = Path(path).expanduser()
    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise IdiaInputError("occurrences_names", f"--names {file} cannot be read as UTF-8 text ({exc}).") from None
    if file.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        if "name" not in (reader.fieldnames or []):
            raise IdiaInputError("occurrences_names", f"--names {file.name} is a CSV without a name column.")
        raw = [row.get("name") or "" for row in reader]
    else:
        raw = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    names = list(dict.fromkeys(" ".join(unicodedata.normalize("NFC", n).split()) for n in raw if n.strip()))
    if not names:
        raise IdiaInputError("occurrences_names", f"--names {file.name} holds no names.")
    if len(names) > MAX_NAMES or max(len(n) for n in names) > MAX_NAME_CHARS:
        raise IdiaInputError("occurrences_names", f"--names {file.name}: at most {MAX_NAMES} names of at most "
                             f"{MAX_NAME_CHARS} characters.")
    return names


@dataclass
class OccurrenceOutcome:
    names: list[str]
    counts: Counts
    out: Path
    evidence: Path
    not_in_labels: list[str]
    elapsed_s: float

    def summary(self) -> str:
        rate = self.counts.rows / self.elapsed_s if self.elapsed_s > 0 else float("inf")
        found = len(self.counts.counts)
        text = (f"Counted {len(self.names)} names in {self.counts.rows} captions in {self.elapsed_s:.1f} s "
                f"({rate:,.0f} captions/s): {found} names found at least once; {self.out} (occurrences), "
                f"{self.evidence} (sample rows)")
        if self.not_in_labels:
            text += f"; {len(self.not_in_labels)} names are not in {self.out.name} and were not added"
        return text


def count_occurrences(captions, names_file, out, *, column: str = "TEXT", id_column: str | None = None,
                      engine: str = "local", ray_address: str | None = None, num_cpus: int | None = None,
                      chunk_rows: int = CHUNK_ROWS, progress=None) -> OccurrenceOutcome:
    """Count every name of ``names_file`` in the captions and write the ``occurrences`` column of
    ``out`` (a labels.csv: updated in place when it exists, else name,occurrences) with the
    evidence beside it (``<out>.occurrences.json``: rows read, the rules, sample row ids)."""
    names = read_names_file(names_file)
    source = open_captions(captions, column, id_column, chunk_rows)
    matcher = NameMatcher.of(names)
    started = time.perf_counter()
    if progress is not None:
        seen = [0]

        def rows_read(n: int, report=progress) -> None:
            seen[0] += n
            report(seen[0], source.rows, "counting captions")

        progress = rows_read
    if engine == "ray":
        counts = count_on_ray(source, column, matcher, id_column, address=ray_address, num_cpus=num_cpus,
                              progress=progress)
    elif engine == "local":
        counts = count_local(source, column, matcher, id_column, progress)
    else:
        raise IdiaInputError("audit_engine", f"--engine is local or ray, not '{engine}'.")
    elapsed = time.perf_counter() - started
    out = Path(out).expanduser()
    found, samples = counts.listed(len(names))
    missing = write_labels(out, names, found)
    evidence = out.with_name(out.stem + ".occurrences.json")
    atomic_write(evidence, json.dumps({
        "captions": [str(f) for f in source.files], "column": column, "id_column": id_column, "rows": counts.rows,
        "rules": "NFKC + case folded, accents kept; whole words (no letter, digit or hyphen-joined word on either "
                 "side); spaces match any white space; a caption counts once per name",
        "names": [{"name": n, "occurrences": c, "sample_rows": s}
                  for n, c, s in zip(names, found, samples)]}, indent=1, ensure_ascii=False) + "\n")
    return OccurrenceOutcome(names, counts, out, evidence, missing, elapsed)


def write_labels(out: Path, names: list[str], counts: list[int]) -> list[str]:
    """Set the ``occurrences`` of ``out`` (labels.csv, matched by name ignoring case; other columns
    kept) or write a new name,occurrences file. Returns the names an existing file lacks (they
    are not added: its other columns, e.g. member, would be empty)."""
    by_key = {fold(" ".join(n.split())): c for n, c in zip(names, counts)}
    if not out.is_file():
        atomic_write(out, "name,occurrences\n" + "".join(f"{_csv_cell(n)},{c}\n" for n, c in zip(names, counts)))
        return []
    with open(out, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        fieldnames = list(reader.fieldnames or [])
        rows = list(reader)
    if "name" not in fieldnames:
        raise IdiaInputError("labels_columns", f"{out.name} has no name column to put occurrences beside.")
    if "occurrences" not in fieldnames:
        fieldnames.append("occurrences")
    present = set()
    for row in rows:
        key = fold(" ".join(str(row.get("name") or "").split()))
        if key in by_key:
            row["occurrences"] = by_key[key]
            present.add(key)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fieldnames, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(out, buf.getvalue())
    return [n for n in names if fold(" ".join(n.split())) not in present]


def _csv_cell(text: str) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow([text])
    return buf.getvalue()
