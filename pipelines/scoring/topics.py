"""Topic definitions: the pydantic model of a topic, the built-in topics, and their compiled form.

A topic is data, never code: the built-in ``ai-research-policy`` topic is the TOML file in
``pipelines/scoring/topic_data/`` and goes through the same `TopicConfig` model as a user's ``[[topics]]``
entry. `resolve_topics` merges the user's entries with the built-ins and compiles each into a
`Topic` once per crawl, so scoring an article never builds a regular expression.
"""

from __future__ import annotations

import logging
import re
import string
import tomllib
from collections.abc import Container, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

import ahocorasick
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

logger = logging.getLogger(__name__)

TOPIC_DATA = Path(__file__).with_name("topic_data")
DEFAULT_TOPIC = "ai-research-policy"

Where = Literal["title", "lead", "body"]
Mode = Literal["require", "boost", "penalty", "compete", "context"]
ALL_WHERE: tuple[Where, ...] = ("title", "lead", "body")

_LATIN_ALNUM = "A-Za-z0-9"
_LATIN_ALNUM_CHARS = string.ascii_letters + string.digits
_HANGUL = re.compile(r"[\uac00-\ud7a3\u3130-\u318f]")


class TermSet(BaseModel):
    """Terms of one language that share a weight and the places where they count.

    ``near`` and ``unless_near`` name other groups (often ``mode = "context"`` ones): the set's
    matches then count only as the closest of those groups' matches in the same sentence decides,
    and ``alone`` says whether a match with none of them around counts (see `Context`).
    """

    model_config = ConfigDict(extra="forbid")

    lang: str = Field("any", pattern=r"^(any|[a-z]{2,3})$")
    weight: float = Field(1.0, gt=0, le=10)
    where: list[Where] = Field(default_factory=lambda: list(ALL_WHERE), min_length=1)
    match: list[str] = Field(min_length=1)
    # Who acts: a condition on the set's matches, checked in their sentence (see `Context`).
    near: list[str] = Field(default_factory=list)
    unless_near: list[str] = Field(default_factory=list)
    alone: bool | None = None

    @model_validator(mode="after")
    def _condition_is_consistent(self) -> TermSet:
        if both := sorted(set(self.near) & set(self.unless_near)):
            raise ValueError(f"{', '.join(both)} cannot be in both `near` and `unless_near`")
        if self.alone is not None and not (self.near or self.unless_near):
            raise ValueError("`alone` only applies to a set with `near` or `unless_near`")
        return self

    @field_validator("match")
    @classmethod
    def _patterns_compile(cls, entries: list[str], info: ValidationInfo) -> list[str]:
        if info.context and info.context.get("shipped"):
            return entries  # the built-in topics' patterns compile: a test checks each one
        for entry in entries:
            for variant in split_variants(entry):
                pattern = variant_regex(variant)
                try:
                    compiled = re.compile(pattern)
                except re.error as exc:
                    raise ValueError(f"{entry!r} is not a valid pattern: {exc}") from exc
                if compiled.groups:
                    raise ValueError(f"{entry!r} has a capturing group: write (?:...) instead of (...)")
        return entries


class TermGroup(BaseModel):
    """One kind of evidence (e.g. "an AI concept") and how it moves the score.

    A ``context`` group moves nothing: it names cues (a company, a plan) that other groups' sets
    look for with ``near`` and ``unless_near``.
    """

    model_config = ConfigDict(extra="forbid")

    mode: Mode = "require"
    weight: float = Field(1.0, ge=0, le=20)
    saturation: float = Field(1.0, gt=0, le=20)
    against: str | None = None
    description: str = ""
    sets: list[TermSet] = Field(min_length=1)

    @model_validator(mode="after")
    def _compete_needs_against(self) -> TermGroup:
        if self.mode == "compete" and not self.against:
            raise ValueError('mode "compete" needs `against`: the group whose subject this one competes with')
        return self


class LocationWeights(BaseModel):
    """How much a match counts by where it is: the title and lead say what an article is about."""

    model_config = ConfigDict(extra="forbid")

    title: float = Field(1.0, ge=0)
    lead: float = Field(0.7, ge=0)
    body: float = Field(0.4, ge=0)
    body_end: float = Field(0.2, ge=0)
    list_line: float = Field(0.1, ge=0)


class ExampleArticle(BaseModel):
    """An article shipped with a topic as a "more like this" (or "not like this") example."""

    model_config = ConfigDict(extra="forbid")

    title: str = ""
    text: str = Field(min_length=1)
    label: bool


class TopicConfig(BaseModel):
    """A topic as written in TOML.

    ``threshold`` is on the score's scale, a probability-like number in 0..1 (see
    pipelines/scoring/scorer.py); ``prior`` is the log-odds when every required group is fully evidenced.
    ``terms`` maps group names to `TermGroup`. ``examples`` are labeled articles shipped with the
    topic; with readers' labels they nudge similar articles by up to ``example_weight`` log-odds
    each (the ``example_neighbours`` strongest, from ``example_similarity`` up), and only when the
    terms alone got the example wrong or nearly so. A user entry whose name is a built-in topic's
    overrides only the fields it sets (``terms`` is merged group by group).
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=64)
    description: str = ""
    enabled: bool = True
    threshold: float = Field(0.5, ge=0, le=1)
    prior: float = Field(2.0, ge=-20, le=20)
    lead_sentences: int = Field(2, ge=0, le=10)
    locations: LocationWeights = Field(default_factory=LocationWeights)
    terms: dict[str, TermGroup] = Field(default_factory=dict)
    query: str | None = Field(None, max_length=2000)
    examples: list[ExampleArticle] = Field(default_factory=list)
    example_weight: float = Field(4.0, ge=0, le=20)
    example_similarity: float = Field(0.3, ge=0, lt=1)
    example_neighbours: int = Field(3, ge=1, le=50)

    @field_validator("query")
    @classmethod
    def _query_parses(cls, query: str | None) -> str | None:
        """Parsed (and its terms compiled) here, so a typo is a config error with its position."""
        if query is not None:
            from pipelines.scoring.query_groups import query_groups

            query_groups(query)
        return query

    def problems(self) -> list[str]:
        """What stops this topic from scoring.

        Checked on the merged topic, not on each entry: an override may name a group that only
        the built-in defines.
        """
        found = [] if self.terms or self.query else [
            "terms: a topic needs at least one term group, or a `query`"]
        for name, group in self.terms.items():
            if group.against is not None and group.against not in self.terms:
                found.append(f"terms.{name}.against: no group named {group.against!r} in this topic")
            for i, term_set in enumerate(group.sets):
                for key in ("near", "unless_near"):
                    field = f"terms.{name}.sets.{i}.{key}"
                    for other in getattr(term_set, key):
                        if other == name:
                            found.append(f"{field}: a set cannot depend on its own group")
                        elif other not in self.terms:
                            found.append(f"{field}: no group named {other!r} in this topic")
        if self.terms and not self.query and not any(
                g.mode in ("require", "boost") for g in self.terms.values()):
            found.append('terms: at least one group must have mode "require" or "boost"')
        return found


@dataclass(frozen=True)
class Context:
    """When a conditional term's match counts: decided by the closest cue in its sentence.

    A cue is a match of a group named in `near` or `unless`. The closest one decides: a `near`
    group's lets the match count, an `unless` group's stops it (on a tie, `unless` wins). With no
    cue in the sentence the match counts when `alone` is true, by default only when there is no
    `near` list. This is how "released" is product news beside "Samsung" and not beside "the
    ministry" or "its AI strategy": a word's meaning depends on who acts and on what.
    """

    near: tuple[str, ...]
    unless: tuple[str, ...]
    alone: bool

    @property
    def groups(self) -> tuple[str, ...]:
        return self.near + self.unless


@dataclass(frozen=True)
class CompiledTerm:
    """One alternative of a group's regex: what a match means and where it may count."""

    canonical: str | None  # None for a bare regex: the matched text names itself
    weight: float
    where: frozenset[str]
    context: Context | None = None


@dataclass(frozen=True)
class Alternative:
    """One surface form, searched on its own so a cheap substring test can skip it."""

    anchor: str | None  # a substring every match contains; None: always searched
    fold: bool  # search the lower-cased text
    regex: re.Pattern[str]
    term: CompiledTerm
    written_as_regex: bool = False  # a "re:" entry, which loses ties to a listed literal


@dataclass(frozen=True)
class GroupMatcher:
    """A group compiled for one language.

    Each surface form is its own small regex behind a substring test: one big alternation would
    try every alternative at every character, which made scoring about twenty times slower.
    """

    name: str
    group: TermGroup
    alternatives: tuple[Alternative, ...]

    def find(
        self, text: str, folded: str, start: int = 0, end: int | None = None,
        present: Anchors | None = None,
    ) -> list[tuple[int, int, CompiledTerm]]:
        """Non-overlapping matches, leftmost-longest: "AI 반도체" is one match, not "AI" and more.

        `start` and `end` limit the search to a part of the text (lookbehinds still see before it).
        `present`, for a search of the whole text, says which anchors it contains (AnchorIndex),
        instead of a substring test per alternative.
        """
        end = len(text) if end is None else end
        whole = not start and end == len(text)
        # The substring tests look at the part only; `in` on a slice is faster than str.find bounds.
        part, folded_part = (text, folded) if whole else (text[start:end], folded[start:end])
        if present is None or not whole:
            present = Anchors(folded_part, part)
        spans = []
        for alt in self.alternatives:
            haystack = folded if alt.fold else text
            if alt.anchor is not None and alt.anchor not in (present.folded if alt.fold
                                                             else present.exact):
                continue
            regex = alt.written_as_regex
            found = alt.regex.finditer(haystack, start, end)
            spans.extend((m.start(), m.end(), regex, alt.term) for m in found)
        # On a tie a listed literal beats a regex, so an alias keeps its canonical name.
        spans.sort(key=lambda span: (span[0], span[0] - span[1], span[2]))
        kept, end = [], -1
        for start, stop, _, term in spans:
            if start >= end and stop > start:
                kept.append((start, stop, term))
                end = stop
        return kept


class Anchors(NamedTuple):
    """What an anchor is looked up in: the lower-cased text (for alternatives that fold case) and
    the text itself. A text (substring test) or the set of anchors it contains."""

    folded: Container[str]
    exact: Container[str]


class AnchorIndex:
    """Which of a topic's anchors a text contains, in one pass (Aho-Corasick) per case.

    Each alternative has its own small regex behind a substring test of its anchor (GroupMatcher);
    a topic has about 700 of them per language, and those tests were most of the time scoring
    takes. One automaton over all the anchors finds the same answers for every group at once.
    """

    def __init__(self, matchers: Sequence[GroupMatcher]) -> None:
        anchors = [a for m in matchers for a in m.alternatives if a.anchor]
        self._folded = _automaton({a.anchor for a in anchors if a.fold})
        self._exact = _automaton({a.anchor for a in anchors if not a.fold})

    def present(self, text: str, folded: str) -> Anchors:
        return Anchors(_found(self._folded, folded), _found(self._exact, text))


def _automaton(words: set[str | None]) -> ahocorasick.Automaton | None:
    if not words:
        return None
    automaton = ahocorasick.Automaton()
    for word in words:
        automaton.add_word(word, word)
    automaton.make_automaton()
    return automaton


def _found(automaton: ahocorasick.Automaton | None, text: str) -> set[str]:
    """Every word of the automaton that occurs in the text (overlapping ones included)."""
    return {word for _, word in automaton.iter(text)} if automaton is not None and text else set()


class Topic:
    """A topic ready to score: its config plus regexes compiled once per language.

    Not a dataclass: it carries caches (compiled matchers, example vectors) that classify fills.
    """

    def __init__(self, config: TopicConfig) -> None:
        if problems := config.problems():
            raise ValueError(f'topic "{config.name}": ' + "; ".join(problems))
        # A query adds its own groups beside the user's (pipelines/scoring/query_groups.py); the
        # clauses that a list of terms cannot say are checked as conditions when scoring.
        self.conditions: dict[str, Any] = {}
        self._terms: dict[str, GroupMatcher] = {}
        self.query = config.query  # as written; `config` below holds the groups made from it
        if config.query:
            config, self.conditions = _with_query(config)
        self.config = config
        self.name = config.name
        self.threshold = config.threshold
        self.languages = {s.lang for g in config.terms.values() for s in g.sets} - {"any"}
        self._matchers: dict[str | None, tuple[GroupMatcher, ...]] = {}
        self._anchors: dict[str | None, AnchorIndex] = {}
        self.cache: dict[Any, Any] = {}

    def __repr__(self) -> str:
        return f"Topic({self.name!r}, threshold={self.threshold})"

    def matchers(self, language: str | None) -> tuple[GroupMatcher, ...]:
        """The groups' regexes for `language`; a language the topic has no terms for gets all terms."""
        key = language if language in self.languages else None
        if key not in self._matchers:
            self._matchers[key] = tuple(
                m for name, group in self.config.terms.items() if (m := _compile_group(name, group, key))
            )
        return self._matchers[key]

    def anchor_index(self, language: str | None) -> AnchorIndex:
        """The anchors of `matchers(language)`, to find which a text contains at once."""
        key = language if language in self.languages else None
        if key not in self._anchors:
            self._anchors[key] = AnchorIndex(self.matchers(language))
        return self._anchors[key]

    def term_matcher(self, text: str) -> GroupMatcher:
        """One query term compiled alone (for a condition such as NEAR), by the term groups' rules."""
        if text not in self._terms:
            group = TermGroup(sets=[TermSet(match=[text])])
            matcher = _compile_group(text, group, None)
            if matcher is None:  # unreachable: a set of lang "any" always compiles
                raise ValueError(f"the query term {text!r} does not compile")
            self._terms[text] = matcher
        return self._terms[text]


def _with_query(config: TopicConfig) -> tuple[TopicConfig, dict[str, Any]]:
    """The config with its query's groups added to `terms`, and the groups' conditions."""
    from pipelines.scoring.query_groups import query_groups

    compiled = query_groups(config.query or "")
    if clash := sorted(set(compiled.groups) & set(config.terms)):
        raise ValueError(f'topic "{config.name}": terms.{clash[0]}: the name is taken by the query\'s '
                         "own groups; rename the group")
    # `query` is left out of the copy: its groups are in `terms` now, and a copy made from a dump
    # of this config (evaluate --without) must not add them twice.
    expanded = config.model_copy(update={"terms": {**config.terms, **compiled.groups}, "query": None})
    return expanded, compiled.conditions


def split_variants(entry: str) -> list[str]:
    """``"A = B = C"`` -> aliases; a bare ``re:`` entry is one pattern even if it contains ' = '."""
    if entry.startswith("re:"):
        return [entry]
    return [v.strip() for v in entry.split(" = ") if v.strip()]


def variant_regex(variant: str) -> str:
    """The regex for one surface form, with the boundary and spacing rules of its script."""
    return _literal(variant)[0] if not variant.startswith("re:") else _regex(variant[3:])[0]


def _regex(pattern: str) -> tuple[str, bool]:
    """(regex, fold) for a ``re:`` entry.

    A leading ``(?i)`` searches the lower-cased copy of the text with the flag dropped: the same
    matches for a pattern written in lower case, but without IGNORECASE Python's engine can skip
    ahead to a literal start, which made such a pattern about six times faster.
    """
    if not pattern.startswith("(?i)"):
        return pattern, False
    body = pattern[4:]
    if re.search(r"[A-Z]", re.sub(r"\\.", "", body)):
        raise ValueError(f"{pattern!r} starts with (?i), so it is matched against lower-cased text: "
                         "write its letters in lower case")
    return body, True


def _literal(variant: str) -> tuple[str, bool, str]:
    """(regex, fold, anchor) for a literal surface form.

    Latin words match only as whole words ("AI" not inside "KAIST" or "OpenAI"), case-insensitively
    unless written as an acronym; Korean terms match as substrings (particles attach to them) with
    optional spaces, since Korean spacing of compounds varies ("AI 기본법", "AI기본법").
    """
    hangul = bool(_HANGUL.search(variant))
    letters = [c for c in variant if c.isascii() and c.isalpha()]
    acronym = len(letters) >= 2 and all(c.isupper() for c in letters)
    fold = not acronym
    text = variant.lower() if fold else variant
    pieces = re.findall(r"[A-Za-z0-9&]+|[\uac00-\ud7a3\u3130-\u318f]+", text) or [text]
    if hangul:
        chunks = re.findall(r"[A-Za-z0-9&]+|[^\sA-Za-z0-9&]+", text)
        body = r"\s*".join(re.escape(c) for c in chunks)
    else:
        words = [re.escape(w).replace(r"\-", r"[\s-]?") for w in text.split()]
        body = r"[\s-]+".join(words)
        last = variant[-1]
        if last.isascii() and last.isalpha() and (acronym or (last.islower() and len(letters) >= 3)):
            body += "s?" if acronym else "(?:s|es)?"
    if variant[0].isascii() and variant[0].isalnum():
        body = _guard_start(body)
    if variant[-1].isascii() and variant[-1].isalnum():
        body += f"(?![{_LATIN_ALNUM}])"
    return body, fold, max(pieces, key=len)


def _regex_anchor(compiled: re.Pattern[str]) -> str | None:
    """The longest run of plain characters that every match of a ``re:`` entry contains, or None.

    A regex with one ("research" in the public-institute pattern) is skipped by a substring test
    on articles without it, as literal terms are. Read from Python's own parse of the pattern:
    only characters in the pattern's main sequence (not in a branch, repeat, group or assertion)
    count. ``re._parser`` is private, so anything unexpected gives no anchor, never a wrong one.
    """
    try:
        parsed = re._parser.parse(compiled.pattern, compiled.flags)  # type: ignore[attr-defined]
        if parsed.state.flags & re.IGNORECASE:
            return None
        best, run = "", ""
        for op, value in parsed.data:
            if op is re._parser.LITERAL:  # type: ignore[attr-defined]
                run += chr(value)
            else:
                best, run = max(best, run, key=len), ""
        best = max(best, run, key=len)
    except Exception:  # an optimisation only: anything unexpected means always searching
        return None
    return best or None


def _guard_start(body: str) -> str:
    """`body` matching only where no Latin letter or digit comes before it.

    The lookbehind goes after the pattern's leading letters, widened by them, rather than in front:
    it tests the same character, but a pattern that starts with a literal lets the regex engine jump
    to where that literal occurs. In front, it made the engine try every position of the text, which
    was more than half of the scoring time.
    """
    run = len(body) - len(body.lstrip(_LATIN_ALNUM_CHARS))
    if run < len(body) and body[run] in "?*+{":
        run -= 1  # a quantifier binds the last letter, so it is not part of a fixed prefix
    if not run:
        return f"(?<![{_LATIN_ALNUM}])" + body
    return f"{body[:run]}(?<![{_LATIN_ALNUM}]{body[:run]}){body[run:]}"


def _compile_group(name: str, group: TermGroup, language: str | None) -> GroupMatcher | None:
    alternatives: list[Alternative] = []
    for term_set in group.sets:
        if language is not None and term_set.lang not in (language, "any"):
            continue
        where = frozenset(term_set.where)
        context = None
        if term_set.near or term_set.unless_near:
            alone = term_set.alone if term_set.alone is not None else not term_set.near
            context = Context(tuple(term_set.near), tuple(term_set.unless_near), alone)
        for entry in term_set.match:
            variants = split_variants(entry)
            canonical = None if variants[0].startswith("re:") else variants[0]
            term = CompiledTerm(canonical, term_set.weight, where, context)
            for variant in variants:
                if variant.startswith("re:"):
                    pattern, fold = _regex(variant[3:])
                    compiled = re.compile(pattern)
                    alternatives.append(Alternative(_regex_anchor(compiled), fold, compiled, term, True))
                else:
                    pattern, fold, anchor = _literal(variant)
                    alternatives.append(Alternative(anchor, fold, re.compile(pattern), term))
    return GroupMatcher(name, group, tuple(alternatives)) if alternatives else None


def load_topic_file(path: str | Path, *, shipped: bool = False) -> TopicConfig:
    """Read one topic from a TOML file (the format of the built-in topic).

    `shipped`: a file of the package's, whose thousand patterns are not compiled here to be
    checked (a third of a second, at every command that names a topic).
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ValueError(f"topic file {path} not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"topic file {path} is not valid TOML: {exc}") from exc
    config = _validate(data, f"topic file {path}", shipped=shipped)
    if problems := config.problems():
        raise ValueError(f"topic file {path}: " + "; ".join(problems))
    return config


def builtin_topics() -> list[TopicConfig]:
    """The topics that ship with the package, one TOML file each in pipelines/scoring/topic_data/."""
    return [load_topic_file(p, shipped=True) for p in sorted(TOPIC_DATA.glob("*.toml"))]


def resolve_topics(user: list[TopicConfig | dict[str, Any]] | None = None) -> list[Topic]:
    """Merge the user's topic entries with the built-ins and compile them.

    No entries -> the built-in topics. An entry named like a built-in overrides only the fields it
    sets (``{name = "ai-research-policy", threshold = 0.6}``; ``enabled = false`` drops it); any
    other entry is a new topic and must define ``terms``. Two entries with one name are an error.
    """
    builtins = {c.name: c for c in builtin_topics()}
    configs = dict(builtins)
    seen: dict[str, int] = {}
    for i, entry in enumerate(user or []):
        where = f'topics[{i}] "{entry.get("name", "?") if isinstance(entry, dict) else entry.name}"'
        config = entry if isinstance(entry, TopicConfig) else _validate(entry, where)
        if config.name in seen:
            raise ValueError(
                f'topics[{seen[config.name]}] and topics[{i}] are both named "{config.name}": '
                "give each topic a unique name"
            )
        seen[config.name] = i
        if config.name in builtins:
            config = _override(builtins[config.name], config, where)
        elif not (config.terms or config.query):
            raise ValueError(
                f"{where}: terms: a new topic needs a `query` or at least one term group "
                f"(only built-in topics - {', '.join(sorted(builtins))} - can be given by name alone)"
            )
        if problems := config.problems():
            raise ValueError(f"{where}: " + "; ".join(problems))
        configs[config.name] = config
    return [Topic(c) for c in configs.values() if c.enabled]


def _override(base: TopicConfig, user: TopicConfig, where: str) -> TopicConfig:
    data = base.model_dump()
    for field in user.model_fields_set - {"name"}:
        value = getattr(user, field)
        if field == "terms":
            data["terms"] = {**data["terms"], **{k: g.model_dump() for k, g in value.items()}}
        else:
            data[field] = value.model_dump() if isinstance(value, BaseModel) else value
            if field == "examples":
                data[field] = [e.model_dump() for e in value]
    return _validate(data, where)


def _validate(data: dict[str, Any], where: str, *, shipped: bool = False) -> TopicConfig:
    """Validate one topic, turning pydantic's report into one line per field that names the fix."""
    try:
        return TopicConfig.model_validate(data, context={"shipped": shipped})
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "(topic)"
            value = repr(err.get("input"))[:60]
            message = err["msg"].removeprefix("Value error, ")
            # A query's message already shows the query, with a caret at the fault.
            problems.append(f"{field}: {message}" if "\n" in message else f"{field}: {message} (got {value})")
        raise ValueError(f"{where}: " + "; ".join(problems)) from None
