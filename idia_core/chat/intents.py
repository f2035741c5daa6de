"""One chat message's text read into an ``Intent``: its shape (a name, a setting, a list of names,
a share link, a question). Whole-message commands ("help", "reset", …) are phrased in the command
table (``commands.COMMANDS``), which hands its phrasings to ``read``; ``commands.parse`` is the
one entry point.

Deliberately rule-based: the app must answer the same message the same way every time, offline,
and a wrong guess about a name is worse than asking. Parsing only recognises the shape of a
request; validating its values (a name, tau, a model spec) is the core's job, so every front end
gives the same message for the same mistake.

Linear time on any input (a public server parses strangers' text while holding the GIL): the
message is capped (``limits.MAX_MESSAGE_CHARS``), white space is folded once, and every pattern
is an anchored prefix of literal words followed by a plain ``[^ ]+`` or nothing — the value is then
cut out with string slicing, never with a lazy group followed by an optional tail (``.*?\\s*\\??$``
is quadratic on a long run of spaces or question marks). Names are recognised by their shape
(words of letters, apostrophes, hyphens, particles such as "van", "de", "bin"), never by a list of
known names; a short list of everyday words that never make a name keeps "try again with 20
photos" or "who is this?" from being taken for one.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from .. import limits
from ..text.names import parse_name_list

QUESTION_TOPICS = ("tau", "p", "sure", "photos", "sandbox", "privacy", "method")


@dataclass(frozen=True)
class Intent:
    """What a message asks for. ``kind`` is a command's (``commands.COMMANDS``); ``value`` holds the raw text the
    request carries (a name, a setting's value, a question's topic, ``+1``/``-1`` for ``adjust``);
    ``items`` a list (names, model specs); ``setting`` the settings field for ``set``/``adjust``."""

    kind: str
    value: str | None = None
    items: tuple[str, ...] = field(default_factory=tuple)
    setting: str | None = None


_I = re.IGNORECASE
_END_PUNCT = " ?!.…;,"
_QUOTES = "\"'“”‘’`«»„"

_ADJUST = re.compile(r"(?:(?:please )?(?:make|be|set)(?: it| the (?:check|test|threshold|verdict))? )?"
                     r"(?P<dir>stricter|more strict|harsher|tougher|looser|less strict|more lenient|lenient|laxer)$", _I)
_STRICTER = ("stricter", "more strict", "harsher", "tougher")

# -- settings -------------------------------------------------------------------------------------
_SET_VERB = r"(?:(?:please )?(?:set|change|make|put|switch|update|use) (?:the )?)?"
_TO = r"(?: ?(?:=|:) ?| (?:to|is|at|of|as) | )"
_SETTINGS = [(fld, re.compile(p + "$", _I)) for fld, p in [
    ("tau", _SET_VERB + r"(?:tau|τ|threshold|the threshold)" + _TO + r"(?P<v>[^ ]+)"),
    ("n_candidates", _SET_VERB + r"(?:pool(?: size)?|n_candidates|candidates|pool of|number of (?:names|candidates))"
     + _TO + r"(?P<v>[^ ]+)(?: names)?"),
    ("n_candidates", r"(?:use |with |try )?(?:a pool of )?(?P<v>[-+]?[\d_,.]+(?:e\d+)?) (?:candidate )?(?:names|candidates)"),
    ("seed", _SET_VERB + r"(?:random )?seed" + _TO + r"(?P<v>[^ ]+)"),
    ("model", r"(?:(?:please )?(?:set|use|switch to|change|switch) )?(?:the )?model" + _TO + r"(?P<v>[^ ]+)"),
    ("model", r"(?:use|switch to) (?P<v>sandbox|hf-hub:[^ ]+|local-dir:[^ ]+|[A-Za-z][\w.-]*:[^ ]+)"),
    ("template_set", _SET_VERB + r"template(?: set|s)" + _TO + r"(?P<v>[^ ]+)"),
    ("template_set", r"(?:use )?(?:the )?(?P<v>[\w'’-]+) templates"),
    ("name_mode", r"(?:use )?(?:the )?(?P<v>paper|mixed|paper's|paper’s) (?:names|name pool|pool|distractors)"),
    ("name_mode", _SET_VERB + r"name[ _]mode" + _TO + r"(?P<v>[^ ]+)"),
]]
TEMPLATE_ALIASES = {"paper": "paper21", "paper's": "paper21", "paper’s": "paper21", "default": "paper21",
                    "21": "paper21"}

# -- naming the person ----------------------------------------------------------------------------
_PRONOUN = r"(?:this|that|it|she|he|they|these|those|this person|the person|these photos|this photo|the photos)"
# Cues after which the rest of the message is the name (the core validates it and says what is
# wrong). ``explicit``: the cue itself says "this is a name" ("my name is", "check"), so a lone
# lower-case word counts; after "is this …" it must be capitalised ("is it working?" is no name).
# Every cue ends at a word's end (``_WORD_END``): its optional last word ("be", "of", "photo",
# "name") is never the start of the name ("Is this Benjamin Franklin?", "check Namely Doe").
_WORD_END = r"(?=[ :=]|$)"
_STRONG_CUES = [(re.compile(p + _WORD_END + " ?", _I), explicit) for p, explicit in (
    (r"(?:my|his|her|their|the|its|the person'?s|the person’s) (?:full )?name is", True),
    (r"(?:name|the name|person|target) ?[:=]", True),
    (r"(?:name|the name)", True),
    (r"(?:(?:i want to|i'd like to|i would like to|i wanna|can you|could you|would you|please) )?"
     r"(?:check|verify|look up|lookup)(?: for| the name| name)? ?:?", True),
    (r"(?:is|does) " + _PRONOUN + r"(?: (?:photo|photos|person|picture|pictures))?(?: (?:show|depict|of))?(?: be)?", False),
    (r"are (?:these|those|they)(?: (?:photos|pictures|images))?(?: of)?", False),
    (r"(?:could|might|would|can|may) (?:this|it|that|these|they|she|he) be", False),
    (r"(?:does|did|do|has|would) (?:the model|it|clip|this model|the ai|you) (?:know|see|recogni[sz]e|seen|remember)", False),
    (r"(?:this|that|it|these|they|those) (?:is|are|'s|’s)(?: (?:photos?|pictures?) of)?", False),
    (r"(?:it's|it’s|its|this's|thats|that's|that’s)", False),
)]
# Weaker cues: the rest must look like a name ("I am confused" is not one).
_WEAK_CUES = [re.compile(p + " ", _I) for p in (
    r"(?:i am|i'm|i’m|im|me,? i am|call me|try|test|maybe|perhaps|what about|how about)",
    r"(?:is|was|has)",   # "is Jane Doe in the training data?" (needs a training-data tail, below)
)]
_TRAINING_TAILS = tuple(f" in {owner}{what}" for owner in ("the ", "your ", "its ", "their ", "this model's ", "")
                        for what in ("training data", "training set", "training", "data", "dataset", "data set",
                                     "model", "sandbox")) + (
    " in laion", " in there", " in it", " in clip", " known to the model", " known", " a member",
    " seen by the model", " in the training data of this model",
)
_POLITE_TAILS = (" please", " pls", " thanks", " thank you", " for me", " now", " then", " or not", " right")
_POLITE_HEADS = ("please", "pls", "ok", "okay", "so", "and", "now", "hi", "hey", "hello", "well", "yes", "right")
_PARTICLES = frozenset(
    "van von de der den del della dei di da das dos du la le lo bin binti bint ibn ben bat al el ter ten zu y e "
    "st st. mac mc abu ap ó o d' dela degli".split())
# Everyday words that are never (part of) a person's name here; chosen so that names which are
# also words ("Will", "Rose", "Young", "King", "Grace") are NOT among them.
NON_NAME_WORDS = frozenset("""
a an the this that these those it its it's this's that's is are was were be been being am do does did
done have has had having i me my mine we us our you your yours he him his she her hers they them their
who whom whose what which when where why how whats who's what's where's there here there's here's
and or but if then so than too very just not no yes yeah yep nope of to in on at by for with without
from into onto about again also only even still please thanks thank thx ok okay sorry hello hi hey
try tried check checked test tested photo photos picture pictures image images pic pics upload uploads
file files name names person people someone somebody anyone anybody everyone nobody something anything
everything nothing model models clip data training dataset sandbox tau seed pool threshold template
templates setting settings report share link help reset undo why explain verdict result results member
members chance score p value some any all more most less many much few each every other another same
new old good bad nice great cool fine sure right wrong true false real fake right now later today
tomorrow yesterday can could would should shall might must one two three four five six seven
eight nine ten again please work works working worked do doing go going get getting got make making
made know known knows see seen look looking show shows tell give want need like hate think thought
please use using used run running time times way thing things lot bit kind sort stuff joke weather
there game app tool page site face faces find search identify recognise recognize guess please
not sure idea maybe perhaps probably really actually also already almost over under up down out off
more less again first last next previous before after while because since until unless though
looks sounds seems feels pretty
""".split())


def normalise(text: str | None) -> str:
    """NFC and every run of white space folded to one space (one linear pass)."""
    return " ".join(unicodedata.normalize("NFC", text or "").split())


def read(text: str | None, phrasings, *, expecting_name: bool = False) -> Intent:
    """The intent of a message's text (files are handled by the controller, not here).
    ``phrasings``: (kind, anchored pattern) of the whole-message commands, tried in order on the
    folded text without end punctuation before any shape (``commands``).

    ``expecting_name``: the agent's last turn asked "Who is it?", so a bare word or two that look
    like a name (any case, one word allowed) are taken as the name."""
    raw = text or ""
    if len(raw) > limits.MAX_MESSAGE_CHARS:
        return Intent("too_long", value=str(len(raw)))
    raw = unicodedata.normalize("NFC", raw).strip()
    if not raw:
        return Intent("none")
    one_line = " ".join(raw.split())
    core = one_line.rstrip(_END_PUNCT).strip()
    if not core:                                   # "?", "???", "..."
        return Intent("help")
    core = _strip_polite(core)

    for kind, pattern in phrasings:
        if pattern.match(core):
            return Intent(kind)
    m = _ADJUST.match(core)
    if m:
        return Intent("adjust", value="+1" if m.group("dir").lower() in _STRICTER else "-1", setting="tau")
    link = _share_query(one_line)
    if link is not None:
        return Intent("open_link", value=link)
    intent = _compare(core) or _names_list_command(raw)
    if intent:
        return intent
    intent = _setting(core)
    if intent:
        return intent
    words = _words(core)
    if _is_who_is_this(words):
        return Intent("who_is_this")
    lines = [] if "\n" not in raw else [" ".join(ln.split()) for ln in raw.splitlines() if ln.strip()]
    if len(lines) >= 2 and all(looks_like_name(ln.rstrip(_END_PUNCT)) for ln in lines):
        return Intent("add_names", value=raw, items=tuple(ln.rstrip(_END_PUNCT) for ln in lines))
    intent = _named(core, expecting_name)
    if intent:
        return intent
    topic = _question_topic(words, one_line.endswith("?"))
    if topic:
        return Intent("question", value=topic)
    return Intent("unknown", value=raw)


# -- helpers (each linear in the message length) ----------------------------------------------------
def _strip_polite(core: str) -> str:
    for _ in range(3):   # "ok so please check …", "hello, I am …"
        first = core[:12].split(" ", 1)[0]
        word = first.rstrip(",!.").lower()
        if word not in _POLITE_HEADS or len(first) >= len(core):
            break
        core = core[len(first):].lstrip(_END_PUNCT).strip()
    return core


def _words(text: str) -> list[str]:
    """Lower-case words without the punctuation around them."""
    return [w.strip(".,;:!?\"'“”‘’()[]") for w in text.lower().split(" ") if w.strip(".,;:!?\"'“”‘’()[]")]


def _share_query(one_line: str) -> str | None:
    """A pasted share link (``…?idia=1&…`` or ``open …``) → its query, else None."""
    text = one_line[5:] if one_line[:5].lower() == "open " else one_line
    if " " in text or "?" not in text:
        return None
    query = text.split("?", 1)[1]
    if query.startswith("idia=") or "&idia=" in query:
        return query
    return None


_COMPARE = re.compile(r"compare(?: (?:models?|with|on|against))?(?: ?:)?(?: |$)", _I)


def _compare(core: str) -> Intent | None:
    m = _COMPARE.match(core)
    if not m:
        return None
    rest = core[m.end():].replace(",", " ").replace(";", " ").strip(" .")
    specs = [s for s in rest.split(" ") if s and s.lower() not in ("and", "vs", "vs.", "versus", "with")]
    return Intent("compare", items=tuple(specs))


_LIST_HEAD = re.compile(r"(?P<verb>add|include|also try|also consider|also include|candidates? ?:|remove|drop|delete|exclude)"
                        r"(?=[\s:]|$)[ \t]*(?:(?:the )?names?(?=[\s:]|$) ?:?)?", _I)


def _names_list_command(raw: str) -> Intent | None:
    """'add Jane Dow, Janet Doe' / 'remove …' / 'add' + a pasted list (the text keeps its lines)."""
    m = _LIST_HEAD.match(raw)
    if not m:
        return None
    rest = raw[m.end():].lstrip(" \t:").strip()
    kind = "remove_names" if m.group("verb").lower() in ("remove", "drop", "delete", "exclude") else "add_names"
    return Intent(kind, value=rest, items=tuple(_split_names(rest)))


def _setting(core: str) -> Intent | None:
    for setting, pattern in _SETTINGS:
        m = pattern.match(core)
        if m:
            value = m.group("v").strip(" .!?")
            if setting == "template_set":
                value = TEMPLATE_ALIASES.get(value.lower(), value)
            if setting == "name_mode":
                value = "paper" if value.lower().startswith("paper") else value
            if setting == "n_candidates":
                value = value.replace(",", "").replace("_", "")
            return Intent("set", value=value, setting=setting)
    return None


_WHO_WORDS = frozenset("who whos who's is are this it that he she they these those person the in photo photos "
                       "picture pictures one guy man woman girl boy lady on here there".split())


def _is_who_is_this(words: list[str]) -> bool:
    """'who is this?', 'who's that?', 'can you identify him?', 'do you know who this is?'."""
    if not words:
        return False
    if words[0] in ("who", "whos", "who's") and 1 < len(words) <= 8 and all(w in _WHO_WORDS for w in words):
        return True
    head = " ".join(words[:8])
    return head.startswith(("identify", "can you identify", "could you identify", "please identify",
                            "do you know who", "tell me who", "find out who", "recognise this", "recognize this",
                            "who is in the", "who is on the", "who are these people", "who are they"))


def _named(core: str, expecting_name: bool) -> Intent | None:
    """A name given by a cue ("is this …", "my name is …"), followed by a question about it, or
    bare (any case; a single word only when the agent just asked for the name)."""
    for cue, explicit in _STRONG_CUES:
        m = cue.match(core)
        if not m or not (m.end() == len(core) or core[m.end() - 1] in " :=" or core[m.end()] in " :="):
            continue
        value = _clean_value(core[m.end():])
        head, _ = _split_name_and_question(value)
        value = head or value
        if value == "" and explicit:
            return Intent("name", value="")
        if _could_be_name(value, single_lowercase_ok=explicit or expecting_name):
            return Intent("name", value=value)
    for cue in _WEAK_CUES:
        m = cue.match(core)
        if m:
            rest = core[m.end():]
            value = _clean_value(rest)
            needs_tail = cue is _WEAK_CUES[-1]
            if needs_tail and value == _clean_value(rest, tails=False):
                continue
            if looks_like_name(value, single_ok=True):
                return Intent("name", value=value)
    at = core.lower().find(" my name is ") + 1   # "is this me? my name is Jane Doe" (not "enemy name is")
    if at > 0:
        value = _clean_value(core[at + len("my name is "):])
        if _could_be_name(value, single_lowercase_ok=True):
            return Intent("name", value=value)
    head, tail = _split_name_and_question(core)
    if head and looks_like_name(head, single_ok=expecting_name):
        return Intent("name", value=head)
    value = _clean_value(core)
    if looks_like_name(value, single_ok=expecting_name, any_case_single=expecting_name):
        return Intent("name", value=value)
    return None


def _clean_value(text: str, *, tails: bool = True) -> str:
    """Quotes, end punctuation and polite or training-data tails removed ('Jane Doe in the training
    data please?' → 'Jane Doe')."""
    value = text.strip().rstrip(_END_PUNCT).strip().strip(_QUOTES).strip()
    if tails:
        changed = True
        for _ in range(4):   # a few polite words at most; more are simply part of the text
            if not changed or not value:
                break
            changed = False
            low_tail = value[-40:].lower()
            for tail in _POLITE_TAILS + _TRAINING_TAILS:
                if low_tail.endswith(tail):
                    value = value[: len(value) - len(tail)].rstrip(_END_PUNCT).strip().strip(_QUOTES).strip()
                    changed = True
                    break
    return value


_QUESTION_AFTER_NAME = frozenset("is does did do was has can could would are she he they her him them known know "
                                 "model training data member in check how what why which where please".split())


def _split_name_and_question(core: str) -> tuple[str | None, str]:
    """'Jane Doe, is she in the training data?' → ('Jane Doe', 'is she in the training data')."""
    cut = -1
    for sep in (",", "?", " - ", " — ", " – ", ":", "!", "."):
        i = core.find(sep)
        if i > 0 and (cut < 0 or i < cut):
            cut = i
    if cut <= 0:
        return None, ""
    head = core[:cut].strip().strip(_QUOTES).strip()
    tail = core[cut:].lstrip(",?-—–:!. ")
    first = tail.split(" ", 1)[0].lower() if tail else ""
    if not tail or first not in _QUESTION_AFTER_NAME:
        return None, ""
    return head, tail


def _could_be_name(value: str, *, single_lowercase_ok: bool) -> bool:
    """After a strong cue: anything that is not plainly everyday words (the core validates the
    rest and says what is wrong, e.g. curly braces or digits)."""
    words = value.split(" ")
    # A capitalised everyday word is a name's word ("Jane Nobody", "Emma Good") when another
    # capitalised word of the value is plainly not an everyday one.
    anchored = any(w[:1].isupper() and _plain_word(w) not in NON_NAME_WORDS for w in words[:12])

    def everyday(w: str) -> bool:
        return _plain_word(w) in NON_NAME_WORDS and not (anchored and w[:1].isupper())

    if not value or len(words) > 12:
        return bool(value) and not any(everyday(w) for w in words[:12])
    if any(everyday(w) for w in words):
        return False
    if not any(ch.isalpha() for ch in value):
        return len(value) <= 40 and not value.replace(" ", "").isdigit()
    if len(words) == 1 and not single_lowercase_ok and value[:1].islower() and \
            all(ch.isalpha() or ch in "'’-." for ch in value):
        return False   # "is it working?" — a lone everyday-looking word; odd characters go on to validation
    return True


def _plain_word(word: str) -> str:
    return word.strip(".,;:!?\"'“”‘’()").casefold()


def looks_like_name(text: str, *, single_ok: bool = False, any_case_single: bool = False) -> bool:
    """Whether ``text`` has the shape of a person's name: 1–6 words (two or more unless
    ``single_ok``) of letters with apostrophes, hyphens or periods, particles allowed ("van", "de",
    "bin"), none an everyday word — except a capitalised one after a capitalised word that is plainly
    a name's ("Hilda Page", "Agatha Good"; not "Good Morning"). A lone word must be capitalised
    unless ``any_case_single``."""
    if not text or len(text) > limits.MAX_NAME_LENGTH:
        return False
    words = text.split(" ")
    if not (1 if single_ok else 2) <= len(words) <= 6:
        return False
    proper = 0
    anchor = False   # a capitalised word before this one that is plainly a name's ("Hilda" in "Hilda Page")
    for w in words:
        core = w.strip(".,")
        if not core or not any(ch.isalpha() for ch in core):
            return False
        if not all(ch.isalpha() or unicodedata.category(ch) == "Mn" or ch in "'’-." for ch in core):
            return False
        low = core.casefold()
        if low in NON_NAME_WORDS and not (anchor and core[:1].isupper()):
            return False   # surnames that are words ("Page", "Good", "Person") count after a first name
        anchor = anchor or (core[:1].isupper() and low not in NON_NAME_WORDS and low not in _PARTICLES)
        if low not in _PARTICLES:
            proper += 1
    if proper == 0:
        return False
    if len(words) == 1 and not any_case_single and not text[:1].isupper():
        return False
    return True


_TOPIC_WORDS = {
    "tau": ("tau", "τ", "threshold"),
    "p": ("p", "p-value", "pvalue", "p-values", "chance", "significance", "significant", "probability"),
    "sandbox": ("sandbox",),
}
_QUESTION_STARTS = frozenset("what whats what's how why who where which is are does do can could will explain "
                             "meaning define tell whats".split())
_PRIVACY_NOUNS = frozenset("photo photos pictures picture images image uploads upload data face faces".split())
_PRIVACY_VERBS = frozenset("happens happen stored store kept keep saved save go goes deleted delete private safe "
                           "privacy uploaded shared share see sees access who where used use".split())


def _question_topic(words: list[str], asked: bool) -> str | None:
    """The topic of a question people ask about the check ('what is tau?' → 'tau'), or None."""
    if not words or len(words) > 20:
        return None
    question = asked or words[0] in _QUESTION_STARTS or len(words) == 1
    if not question:
        return None
    ws = set(words)
    text = " ".join(words)
    if "privacy" in ws or (ws & _PRIVACY_NOUNS and ws & _PRIVACY_VERBS and ("my" in ws or "the" in ws or "your" in ws)
                           and "how many" not in text):
        return "privacy"
    if "how many" in text and ws & {"photos", "photo", "pictures", "images", "pics", "need"}:
        return "photos"
    if text.startswith(("how sure", "how confident", "how reliable", "how accurate", "how certain", "can i trust",
                        "is it certain", "is this certain", "how good is", "is it reliable", "is this reliable",
                        "how trustworthy", "is the verdict", "what does the verdict mean")) or "confidence" in ws:
        return "sure"
    if (words[0] == "who" and ws & {"made", "created", "invented", "wrote", "developed", "designed", "built"}) or \
            ws & {"paper", "cite", "citation", "authors", "author", "reference", "method", "attack", "idia"}:
        return "method"
    for topic, keys in _TOPIC_WORDS.items():
        if ws & set(keys):
            return topic
    return None


def _split_names(text: str) -> list[str]:
    """A pasted list (lines, commas, semicolons) or 'A and B' → names, each stripped of quotes."""
    parts = parse_name_list(text)
    if len(parts) == 1 and " and " in parts[0]:
        parts = [p for p in parts[0].split(" and ") if p.strip()]
    return [_strip_quotes(p) for p in parts]


def _strip_quotes(text: str) -> str:
    return text.strip().strip(_QUOTES).strip()
