"""The project's error types, and every error code in one table.

One exception type carries every "you gave us something we can't use" case, with a message written
for the person who gave it and a stable ``code``. Front ends map it, not the cause: the CLI to exit
code 2, the chat to a reply, the API to ``{"ok": false, "error": {"code", "message"}}``. Anything
else escaping the core is a bug, not a user mistake.

``ERROR_CODES`` lists every code the package raises (a test holds it to the code) with what it
means; the table of codes in docs/api.md is generated from it (``codes_markdown``).
"""
from __future__ import annotations

from .echo import Markup


class IdiaInputError(ValueError):
    """Input a user can fix. ``code`` is a stable slug (``ERROR_CODES``; for tests and API clients);
    ``message`` is the sentence a person reads: what was wrong and what to do. Every value from
    outside in a message goes through ``echo.quoted`` or ``echo.code``, so the message is safe to
    show as markdown (``echo.Markup``) and reads the same as plain text."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = Markup(message)

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.message


class ModelUnavailableError(IdiaInputError):
    """A model spec that is well formed but cannot be loaded here (not cached and no hub, unknown
    tag, broken files). The message names the model and says how to get it."""


# code -> what it means (the message itself says what to do). Grouped as docs/api.md shows them.
ERROR_CODES: dict[str, dict[str, str]] = {
    "photos": {
        "no_photos": "no photos were given",
        "too_few_photos": "fewer (distinct) photos than a majority vote needs (3)",
        "too_many_photos": "more photos than one check takes (50)",
        "photo_missing": "a photo path that is not a file",
        "photo_type": "something that is not a photo (a path, bytes, a file or an image)",
        "photo_empty": "an empty file",
        "photo_too_large": "a file over the size limit (25 MB)",
        "photo_not_image": "a file that is not an image Pillow can read",
        "photo_corrupt": "an image whose header cannot be opened",
        "photo_truncated": "an image that cannot be decoded to the end",
        "photo_bomb": "an image that claims more pixels than any camera makes (250 MP), or far more than its "
                      "file holds (a decompression bomb)",
        "photo_too_many_pixels": "an image in a format decoded at full size (PNG, WebP, TIFF, …) that would "
                                 "take more than 256 MB to decode",
        "photo_too_small": "an image under 16 px on a side",
    },
    "names": {
        "name_missing": "no name was given",
        "name_empty": "a name that is empty or shows nothing (invisible characters only)",
        "name_too_long": "a name over 200 characters",
        "name_braces": "a name with curly braces",
        "name_characters": "a name with characters no name has (controls, symbols, digits, a stray joiner)",
        "name_no_letters": "a name without letters",
        "name_too_long_for_model": "a name whose prompts the model would cut (its context length)",
        "name_look_alike": "an added name that looks like the person's name or another added name (letters of "
                           "another script)",
        "too_many_names": "more added names than allowed (5000; 200 on a public server)",
        "names_file_missing": "--names-file names no file",
        "names_file_encoding": "--names-file is not UTF-8 text",
    },
    "templates": {
        "template_type": "a template that is not text",
        "template_empty": "an empty template",
        "template_too_long": "a template over 300 characters",
        "template_no_placeholder": "a template without the name's place ({0} or {name})",
        "template_many_placeholders": "a template with the name's place more than once",
        "template_braces": "a template with other curly braces",
        "templates_empty": "no templates",
        "templates_too_many": "more than 100 templates",
        "templates_duplicate": "the same template twice",
        "template_set_unknown": "a template set that does not exist (sets are named, never paths)",
    },
    "settings": {
        "tau_type": "tau is not a whole number",
        "tau_range": "tau outside 1 … the number of templates",
        "pool_size_type": "the pool size is not a whole number",
        "pool_size_range": "a pool outside 2 … 5000 names (or nothing left after fitting it to the model)",
        "pool_size_limit": "a pool larger than a public server runs (2000)",
        "pool_too_large": "the target and added names, or --candidates, exceed the pool limit",
        "pool_too_small": "an evaluation pool smaller than its dataset",
        "seed_type": "the seed is not a whole number",
        "seed_range": "a seed outside 0 … 2**32 - 1",
        "name_mode": "a name mode other than mixed or paper",
        "control_m_range": "reference people per control outside 1 … 1000",
        "setting_unknown": "a settings field the chat does not have",
    },
    "models": {
        "model_spec_empty": "no model was named",
        "model_spec_type": "a model named by something that is not text",
        "model_spec_format": "a model in a link that is not a spec (letters, digits and . _ - : / only)",
        "model_spec_hub": "an hf-hub: spec that is not ORG/NAME",
        "model_spec_dir": "local-dir: without a folder",
        "model_unknown": "an architecture open_clip does not know",
        "model_tag_missing": "an architecture without ':TAG'",
        "model_tag_unknown": "a tag open_clip does not know for that architecture",
        "model_activation_sandbox": "+gelu / +quickgelu on the sandbox model",
        "model_needs_packages": "a model that needs packages this install lacks",
        "model_precision": "a precision other than float32, float16 or bfloat16",
        "model_not_offered": "a model a public server does not offer",
        "model_local_refused": "files on a server's disk, which visitors cannot load",
        "model_not_cached": "a model not in the local cache while no hub can be reached",
        "model_sandbox_missing": "the embedded sandbox model is missing from the checkout",
        "model_dir_invalid": "a model folder without a usable open_clip_config.json",
        "model_dir_no_weights": "a model folder (or repo) without weights open_clip would load",
        "model_file_missing": "ARCH:PATH names no weights file",
        "model_load_failed": "a model that failed to load for another reason (the log has it)",
        "gpu_quota": "a ZeroGPU Space's GPU time for this visitor is used up for now",
        "gpu_unavailable": "a ZeroGPU Space had no GPU for the check just now (busy, or the task took too long)",
    },
    "check API and share links": {
        "option_type": "options that are not a JSON object, or an option of the wrong JSON type",
        "option_unknown": "an option the API does not know",
        "internal": "a fault on the server (not the visitor's: the server's log has it)",
        "share_version": "a share link from another version of idia",
        "share_no_name": "a share link without a name",
        "share_field": "a share link with a value idia never writes",
        "share_bad_hash": "a share link with a photo hash that is not a SHA-256",
        "share_too_long": "a share link, or the link asked for, over the length limit",
    },
    "reference sets": {
        "reference_missing": "a reference folder that does not exist",
        "reference_empty": "a reference folder without a person that has enough photos",
    },
    "evidence and verify": {
        "evidence_missing": "no evidence file at that path",
        "evidence_json": "an evidence file that is not JSON",
        "evidence_format": "a JSON file that is not an idia evidence bundle",
        "evidence_version": "an evidence bundle of another format version",
        "evidence_fields": "an evidence bundle missing what a re-run needs",
        "evidence_malformed": "an evidence bundle whose verdict or votes were damaged or edited",
    },
    "evaluation": {
        "dataset_missing": "a dataset folder that does not exist",
        "dataset_empty": "a dataset without labelled person folders with photos",
        "dataset_no_photos": "a person without photos",
        "dataset_duplicate_names": "two people of a dataset with the same name",
        "dataset_indistinct_names": "two people whose names the model tokenises identically",
        "labels_missing": "no labels.csv",
        "labels_columns": "labels.csv without the columns name,member (an audit's or occurrences': without name)",
        "labels_member": "a member value other than 1/0 or true/false",
        "labels_occurrences": "an occurrences value that is not a number",
        "names_csv_columns": "names.csv without the columns folder,name",
        "sandbox_world_missing": "the sandbox world manifest is missing",
        "photos_sizes": "--photos that are not positive photo counts",
        "draws_range": "--draws outside 1 … 1000",
        "max_people": "--max-people under 2",
        "sandbox_photos": "--sandbox-photos outside the photo counts … 200",
        "usage": "a command line argparse could not read",
    },
    "audits and caption counts": {
        "people_dir_missing": "an audit's people folder that does not exist",
        "people_dir_unreadable": "a people folder, or a person's folder, that cannot be read",
        "people_dir_empty": "a people folder without a person folder with photos",
        "names_csv_missing": "--names names no file",
        "audit_photo_unreadable": "a person's photo file that cannot be read (that person's rows are invalid)",
        "audit_photos": "--photos outside 3 … 50",
        "audit_models": "--models without a model",
        "audit_engine": "an engine other than local or ray, or a Ray address beside --engine local",
        "audit_workers": "--workers outside 1 … 64",
        "audit_shard": "--shard that is not i/n with 0 <= i < n",
        "audit_settings_differ": "an output folder that holds an audit made with other settings",
        "audit_out_foreign": "an output folder whose audit.json is not an audit's",
        "audit_out_missing": "audit-merge on a folder without an audit",
        "audit_out_unwritable": "an output folder that cannot be created or written",
        "ray_missing": "--engine ray where Ray is not installed",
        "ray_address": "--ray-address that is not HOST:PORT, ray://HOST:PORT or auto",
        "ray_unreachable": "a Ray address where no cluster answers (refused within seconds)",
        "captions_missing": "no parquet file at the captions path",
        "captions_unreadable": "a captions file that is not parquet",
        "captions_column": "a captions file without the caption (or id) column",
        "captions_column_type": "a caption column that does not hold text",
        "occurrences_names": "a names file that cannot be read, holds no names or too many",
        "worker_failed": "an audit row whose model worker failed or died past its retries (a re-run retries it)",
    },
}


def all_codes() -> dict[str, str]:
    """Every code with what it means, in the table's order."""
    return {code: meaning for group in ERROR_CODES.values() for code, meaning in group.items()}


def codes_markdown() -> str:
    """The table of codes as docs/api.md shows it (a test keeps the page's copy equal to this)."""
    lines = ["| code | what was wrong |", "|---|---|"]
    for group, codes in ERROR_CODES.items():
        lines.append(f"| **{group}** | |")
        lines += [f"| `{code}` | {meaning} |" for code, meaning in codes.items()]
    return "\n".join(lines)
