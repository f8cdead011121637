"""Topic scoring: weighted term evidence by location, combined per topic, with reasons for every point.

Pure Python and Scrapy-free so the crawl, ``newswatch explain`` and the evaluation script all call the
same `score`. How the number is made (groups, modes, weights) is described at the top of
``pipelines/scoring/topic_data/ai-research-policy.toml``; the score is sigmoid(log-odds), in 0..1.
"""

from __future__ import annotations

import bisect
import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipelines.scoring.topics import Anchors, CompiledTerm, Context, GroupMatcher, Topic

# A required group with no evidence counts as if its strength were FLOOR: low enough that the
# other groups cannot make up for it, which is what turns "require" into an AND.
FLOOR = 0.03
_LN_FLOOR = math.log(FLOOR)
_MAX_REASONS = 40
_MAX_IGNORED = 10
# A labeled example teaches only if its own score was wrong or within this of the threshold.
_MARGIN = 0.25

_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_LATIN = re.compile(r"[A-Za-z]")
_SENTENCE_END = re.compile(r"[.!?。](?=[\s\"'”’)\]]|$)|\n")
# Sentence ends for context conditions: unlike _SENTENCE_END, a full stop before a lower-case word
# ("Samsung Electronics Co. launched") does not end the sentence, so the company stays beside its verb.
_CLAUSE_END = re.compile(r"[.!?。][\"'”’)\]]*(?=\s+[^\sa-z]|\s*$)|\n")
_SENTENCE_LINE = re.compile(r"(?:[.!?。][\"'”’)\]]*|다|요)$")
_BULLET = re.compile(r"^\s*(?:[•·∙◦▪▫■□◆◇○●▶►▷※*+-]|\d{1,2}[.)]?\s*$)")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]+|[\uac00-\ud7a3]+")
_STOPWORDS = frozenset((
    "the", "and", "for", "with", "that", "this", "from", "have", "has", "had", "was", "were", "are",
    "its", "his", "her", "their", "they", "will", "would", "said", "says", "also", "into", "over",
    "more", "than", "been", "which", "who", "about", "after", "before", "such", "other", "but", "not",
    "one", "two", "new", "can", "all", "out", "what", "when", "where", "while", "there", "these",
    "those", "our", "you", "your",
))


@dataclass
class Reason:
    """One piece of evidence and its signed contribution to the topic's log-odds.

    ``feature`` is the group (``ai``, ``actor``, ``business``...), ``example`` for a labeled article's
    nudge, ``missing:<group>`` for a required group with no evidence (weight 0: it moved nothing,
    but it is why the score stayed low), or ``ignored:<group>`` for a match its context stopped
    (weight 0: "released" beside "the ministry" is not a product launch). ``term`` is the canonical
    name of an alias ("과학기술정보통신부" for "MSIT"); ``where`` is title, lead, body, example, or
    article for whole-article features. ``context`` says why a conditional match counted or not
    (``closest cue "Samsung" (company)``).
    """

    feature: str
    evidence: str
    where: str
    weight: float
    term: str | None = None
    count: int = 1
    context: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = {**asdict(self), "weight": round(self.weight, 4)}
        if self.context is None:
            del data["context"]  # most reasons have none; stored JSON stays as it was
        return data


@dataclass
class TopicScore:
    """A topic's verdict on one article: the score in 0..1, the threshold it met or not, and why."""

    topic: str
    score: float
    threshold: float
    matched: bool
    reasons: list[Reason] = field(default_factory=list)
    language: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "score": round(self.score, 4),
            "threshold": self.threshold,
            "matched": self.matched,
            "language": self.language,
            "reasons": [r.to_json() for r in self.reasons],
        }


@dataclass(frozen=True)
class Example:
    """A reader's verdict on an article (``label`` True = relevant), used as "more like this"."""

    id: int | None
    title: str
    text: str
    label: bool


def detect_language(text: str) -> str:
    """``ko`` when Hangul is at least a fifth of the letters, else ``en``: enough for ko/en portals."""
    hangul = len(_HANGUL.findall(text))
    latin = len(_LATIN.findall(text))
    return "ko" if hangul and hangul * 4 >= latin else "en"


class _Doc:
    """An article normalised once, with the location (title, lead, body) of every character."""

    def __init__(self, title: str | None, text: str, language: str | None) -> None:
        title = unicodedata.normalize("NFKC", title or "").strip()
        text = unicodedata.normalize("NFKC", text or "").strip()
        self.title_end = len(title)
        self.text_start = len(title) + 2 if title else 0
        self.doc = f"{title}\n\n{text}" if title else text
        self.language = language or detect_language(self.doc)
        folded = self.doc.lower()
        # Case-insensitive terms search this copy; it must keep every offset of the original.
        self.folded = folded if len(folded) == len(self.doc) else "".join(
            c.lower() if len(c.lower()) == 1 else c for c in self.doc
        )
        # Lines that look like navigation or related-article lists (bullets, short lines without a
        # sentence ending) keep a small weight: the clean stage should drop them, but a page that
        # slips through must not match on its ranking list.
        self.line_starts: list[int] = []
        self.list_line: list[bool] = []
        pos = self.text_start
        for line in text.split("\n"):
            self.line_starts.append(pos)
            stripped = line.strip()
            headline_like = len(stripped) < 80 and not _SENTENCE_LINE.search(stripped)
            self.list_line.append(bool(stripped) and (bool(_BULLET.match(stripped)) or headline_like))
            pos += len(line) + 1
        self.lead_start = next(
            (s for s, listish in zip(self.line_starts, self.list_line, strict=True) if not listish),
            len(self.doc),
        )
        self._sentence_ends: list[int] = []
        for m in _SENTENCE_END.finditer(self.doc, self.lead_start):
            # A paragraph break right after a full stop ends one sentence, not two.
            previous = self._sentence_ends[-1] if self._sentence_ends else self.lead_start
            if self.doc[previous : m.start()].strip():
                self._sentence_ends.append(m.end())
        self._leads: dict[int, int] = {}
        self._clause_ends: list[int] | None = None

    def lead_end(self, sentences: int) -> int:
        """End of the first `sentences` sentences of the text, at most 500 characters in."""
        if sentences not in self._leads:
            ends = self._sentence_ends[:sentences]
            end = ends[-1] if ends else len(self.doc)  # a short text is all lead
            self._leads[sentences] = min(end, self.lead_start + 500) if sentences else self.lead_start
        return self._leads[sentences]

    def sentence(self, pos: int) -> tuple[int, int]:
        """Start and end of the sentence (or title, or line) around `pos`, for context conditions."""
        if self._clause_ends is None:
            self._clause_ends = [m.end() for m in _CLAUSE_END.finditer(self.doc)]
        i = bisect.bisect_right(self._clause_ends, pos)
        start = self._clause_ends[i - 1] if i else 0
        return start, self._clause_ends[i] if i < len(self._clause_ends) else len(self.doc)

    def is_list_line(self, pos: int) -> bool:
        i = bisect.bisect_right(self.line_starts, pos) - 1
        return i >= 0 and self.list_line[i]


def _locate(doc: _Doc, pos: int, topic: Topic, lead_end: int) -> tuple[str, float]:
    weights = topic.config.locations
    if pos < doc.title_end:
        return "title", weights.title
    listed = weights.list_line if doc.is_list_line(pos) else 1.0
    if doc.lead_start <= pos < lead_end:
        return "lead", weights.lead * listed
    # The body counts less the further it goes: tails hold background, boilerplate and asides.
    span = max(len(doc.doc) - lead_end, 1)
    fraction = min(max(pos - lead_end, 0) / span, 1.0)
    return "body", (weights.body - (weights.body - weights.body_end) * fraction) * listed


@dataclass
class _Hit:
    term: str
    surface: str
    where: str
    weight: float
    effective: float = 0.0
    counted: bool = True  # False: its context stopped it; kept only to say so in the reasons
    context: str | None = None


class _Matches:
    """Every group's matches in one article, found once and only where asked for.

    A scoring group is searched in the whole article; a context group only in the sentences of
    conditional matches, so it costs little, and nothing on an article without one.
    """

    def __init__(self, doc: _Doc, matchers: Sequence[GroupMatcher], present: Anchors) -> None:
        self._doc = doc
        self._present = present  # the anchors the whole article contains
        self._matchers = {m.name: m for m in matchers}
        self._found: dict[str, list[tuple[int, int, CompiledTerm]]] = {}
        self._in_sentence: dict[tuple[str, int], list[tuple[int, int, CompiledTerm]]] = {}

    def __call__(self, name: str) -> list[tuple[int, int, CompiledTerm]]:
        if name not in self._found:
            matcher = self._matchers.get(name)
            self._found[name] = (matcher.find(self._doc.doc, self._doc.folded, present=self._present)
                                 if matcher else [])
        return self._found[name]

    def found(self, name: str) -> bool:
        """Whether the group's matches in the whole article are known (or cost nothing to know)."""
        matcher = self._matchers.get(name)
        return matcher is None or name in self._found or matcher.group.mode != "context"

    def within(self, name: str, low: int, high: int) -> list[tuple[int, int, CompiledTerm]]:
        """The group's matches between `low` and `high` (one sentence), sorted by start."""
        matcher = self._matchers.get(name)
        if matcher is None:
            return []
        if name in self._found or matcher.group.mode != "context":
            return [m for m in self(name) if m[1] > low and m[0] < high]
        key = (name, low)
        if key not in self._in_sentence:
            self._in_sentence[key] = matcher.find(self._doc.doc, self._doc.folded, low, high)
        return self._in_sentence[key]


def _judge(doc: _Doc, start: int, end: int, context: Context, matches: _Matches) -> tuple[bool, str]:
    """Whether a conditional match counts, and why: the closest cue in its sentence decides.

    Without a `near` cue in the sentence a match that needs one cannot count, so `unless_near`
    cues are then looked for only to explain, and only in groups already matched: a context group
    is not searched for that (amounts without a funding word are common and would each search).
    """
    low, high = doc.sentence(start)
    best: tuple[int, int, str, int, int] | None = None  # (distance, near?, group, start, end)
    lost = False
    for name in context.groups:  # near groups first
        if name in context.unless and best is None and context.near and not context.alone:
            lost = True
        if lost and not matches.found(name):
            continue
        rank = 1 if name in context.near else 0  # on a tie the "unless" cue wins
        for cue_start, cue_end, _ in matches.within(name, low, high):
            distance = max(cue_start - end, start - cue_end, 0)
            if best is None or (distance, rank) < best[:2]:
                best = (distance, rank, name, cue_start, cue_end)
    if best is None:
        cues = " or ".join(context.near if lost else context.groups)
        return context.alone, f"no {cues} in its sentence" + ("; counts alone" if context.alone else "")
    _, rank, name, cue_start, cue_end = best
    cue = f'"{doc.doc[cue_start:cue_end]}" ({name})'
    if lost:
        return False, f"no {' or '.join(context.near)} in its sentence, but {cue}"
    return bool(rank), f"closest cue {cue}"


def _group_hits(
    doc: _Doc, matcher: GroupMatcher, topic: Topic, lead_end: int, matches: _Matches
) -> list[_Hit]:
    """Every match of the group, each term's repeats counting 1, 1/2, 1/3...: mentions add up slowly.

    A match its context stops is kept, uncounted, so the reasons can say why it did not count.
    """
    by_term: dict[str, list[_Hit]] = defaultdict(list)
    ignored: list[_Hit] = []
    for start, end, term in matches(matcher.name):
        where, location_weight = _locate(doc, start, topic, lead_end)
        if where not in term.where:
            continue
        surface = doc.doc[start:end]
        name = term.canonical or surface.lower()
        hit = _Hit(name, surface, where, term.weight * location_weight)
        if term.context is not None:
            hit.counted, hit.context = _judge(doc, start, end, term.context, matches)
        (by_term[name] if hit.counted else ignored).append(hit)
    hits = []
    for term_hits in by_term.values():
        term_hits.sort(key=lambda h: -h.weight)
        for rank, hit in enumerate(term_hits):
            hit.effective = hit.weight / (rank + 1)
        hits.extend(term_hits)
    return hits + ignored


def _evidence(doc: _Doc, topic: Topic) -> dict[str, list[_Hit]]:
    lead_end = doc.lead_end(topic.config.lead_sentences)
    matchers = topic.matchers(doc.language)
    present = topic.anchor_index(doc.language).present(doc.doc, doc.folded)
    matches = _Matches(doc, matchers, present)
    evidence = {m.name: _group_hits(doc, m, topic, lead_end, matches)
                for m in matchers if m.group.mode != "context"}
    if topic.conditions:
        _apply_conditions(doc, topic, evidence)
    return evidence


def _apply_conditions(doc: _Doc, topic: Topic, evidence: dict[str, list[_Hit]]) -> None:
    """A query clause such as `A NEAR/5 B` counts its terms' matches only where it holds.

    Its matches are kept, uncounted, so the reasons say which clause did not hold (scoring/query.py).
    """
    from pipelines.scoring.query import holds

    found: dict[str, list[tuple[int, int]]] = {}

    def find(text: str) -> list[tuple[int, int]]:
        if text not in found:
            found[text] = [(a, b) for a, b, _ in topic.term_matcher(text).find(doc.doc, doc.folded)]
        return found[text]

    for name, condition in topic.conditions.items():
        hits = evidence.get(name)
        if not hits or holds(condition, find, doc.doc):
            continue
        why = f"the query clause {topic.config.terms[name].description} does not hold in this article"
        for hit in hits:
            hit.counted, hit.effective, hit.context = False, 0.0, why


def _contributions(topic: Topic, evidence: dict[str, list[_Hit]]) -> tuple[float, list[Reason]]:
    """Log-odds from the term groups, and the reasons that add up to it (bar the prior)."""
    totals = {name: sum(h.effective for h in hits) for name, hits in evidence.items()}
    logit = topic.config.prior
    reasons: list[Reason] = []
    for name, group in topic.config.terms.items():
        if group.mode == "context":
            continue
        reasons.extend(_ignored(name, evidence.get(name, ())))
        total = totals.get(name, 0.0)
        strength = 1.0 - math.exp(-total / group.saturation)
        if group.mode == "require":
            logit += group.weight * _LN_FLOOR
            contribution = group.weight * (math.log(max(strength, FLOOR)) - _LN_FLOOR)
            if not total:
                reasons.append(Reason(f"missing:{name}", group.description or name, "article", 0.0))
        elif group.mode == "boost":
            contribution = group.weight * strength
        elif group.mode == "penalty":
            contribution = -group.weight * strength
        else:
            rival = totals.get(group.against or "", 0.0)
            share = total / (total + rival) if total else 0.0
            contribution = -group.weight * strength * share
        logit += contribution
        if not total or not contribution:
            continue
        merged: dict[tuple[str, str], Reason] = {}
        for hit in evidence[name]:
            if not hit.counted:
                continue
            key = (hit.term, hit.where)
            part = contribution * hit.effective / total
            if key in merged:
                merged[key].weight += part
                merged[key].count += 1
            else:
                merged[key] = Reason(name, hit.surface, hit.where, part, term=hit.term, context=hit.context)
        reasons.extend(merged.values())
    return logit, reasons


def _ignored(name: str, hits: Sequence[_Hit]) -> list[Reason]:
    """Zero-weight reasons for the group's matches that their context stopped, one per term and place."""
    merged: dict[tuple[str, str], Reason] = {}
    for hit in hits:
        if hit.counted:
            continue
        key = (hit.term, hit.where)
        if key in merged:
            merged[key].count += 1
        else:
            merged[key] = Reason(f"ignored:{name}", hit.surface, hit.where, 0.0, term=hit.term,
                                 context=hit.context)
    return list(merged.values())


def _vector(doc: _Doc, topic: Topic, evidence: dict[str, list[_Hit]]) -> dict[str, float]:
    """What an article is about, for similarity to labeled examples.

    Half canonical term evidence (so aliases and both languages meet: "MSIT" and "과기정통부" are one
    feature) and half words: English words, Korean character bigrams (no tokenizer needed), weighted
    by location. Both halves are unit length, so the dot product is the mean of two cosines.
    """
    terms: dict[str, float] = defaultdict(float)
    for name, hits in evidence.items():
        for hit in hits:
            if hit.counted:
                terms[f"{name}:{hit.term}"] += hit.effective
    words: dict[str, float] = defaultdict(float)
    lead_end = doc.lead_end(topic.config.lead_sentences)
    for m in _WORD.finditer(doc.doc):
        weight = _locate(doc, m.start(), topic, lead_end)[1]
        token = m.group()
        if token[0].isascii():
            token = token.lower().rstrip("s")
            if len(token) > 2 and token not in _STOPWORDS:
                words[token] += weight
        else:
            for i in range(len(token) - 1):
                words[token[i : i + 2]] += weight
    vector: dict[str, float] = {}
    for part in (terms, words):
        norm = math.sqrt(sum(v * v for v in part.values())) or 1.0
        vector.update({k: v / norm * math.sqrt(0.5) for k, v in part.items()})
    return vector


def _similarity(a: dict[str, float], b: dict[str, float]) -> float:
    # Intersecting the key views runs in C; most keys of two articles are not shared.
    return sum(a[k] * b[k] for k in a.keys() & b.keys())


def _sigmoid(logit: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(logit, 50.0), -50.0)))


def _example_profile(example: Example, topic: Topic) -> tuple[dict[str, float], float]:
    """An example's vector and its score from term evidence alone, computed once per topic."""
    key = ("example", example.title, example.text)
    if key not in topic.cache:
        if len(topic.cache) > 20_000:
            topic.cache.clear()
        doc = _Doc(example.title, example.text, None)
        evidence = _evidence(doc, topic)
        topic.cache[key] = (_vector(doc, topic, evidence), _sigmoid(_contributions(topic, evidence)[0]))
    return topic.cache[key]


def example_similarity(title: str | None, text: str, language: str | None, topic: Topic,
                       example: Example) -> float:
    """How similar an article is to a labeled example for `topic`, exactly as `_example_reasons`
    measures it when scoring: the article's own vector against the example's cached profile.

    Public so the nudge after a verdict (scoring/nudge.py) picks the very articles scoring will
    move, with no second notion of "similar" to drift from this one.
    """
    key = ("vector", title, text, language)
    if key not in topic.cache:
        # Kept with the topic like the examples' profiles: the web view's next verdict (and its
        # undo) measures the same recent articles again.
        if len(topic.cache) > 20_000:
            topic.cache.clear()
        doc = _Doc(title, text, language)
        topic.cache[key] = _vector(doc, topic, _evidence(doc, topic))
    return _similarity(topic.cache[key], _example_profile(example, topic)[0])


def _residual(label: bool, own_score: float, threshold: float) -> float:
    """How far an example's own score falls short of its label's side, with a margin of 0.25.

    Zero for an example the terms already put well on the right side of the threshold.
    """
    if label:
        return max(0.0, min(threshold + _MARGIN, 1.0) - own_score)
    return -max(0.0, own_score - max(threshold - _MARGIN, 0.0))


def example_pull(example: Example, topic: Topic) -> float:
    """How hard a labeled example pulls similar articles (its residual, see `_residual`): zero when
    its terms alone already put it well on its label's side, so its verdict moves nothing."""
    return _residual(example.label, _example_profile(example, topic)[1], topic.threshold)


def _example_reasons(
    doc: _Doc, topic: Topic, evidence: dict[str, list[_Hit]], examples: Sequence[Example]
) -> list[Reason]:
    """Nudges from similar labeled articles, by how similar they are and how wrong the terms were.

    An example counts by its residual (see `_residual`): a verdict that corrects a mistake moves
    similar articles, one the terms already got right does not. Without this, a pile of ordinary
    relevant labels lifts every article that merely shares their vocabulary, counting the same
    evidence twice; measured on new articles, that added false matches.
    """
    config = topic.config
    shipped = [Example(None, e.title, e.text, e.label) for e in config.examples]
    pool = [*shipped, *examples]
    if not pool or not config.example_weight:
        return []
    vector = _vector(doc, topic, evidence)
    nudges = []
    for example in pool:
        other, own_score = _example_profile(example, topic)
        similarity = _similarity(vector, other)
        if similarity < config.example_similarity:
            continue
        strength = (similarity - config.example_similarity) / (1.0 - config.example_similarity)
        residual = _residual(example.label, own_score, topic.threshold)
        if not residual:
            continue
        nudges.append((config.example_weight * strength * residual, similarity, own_score, example))
    nudges.sort(key=lambda n: -abs(n[0]))
    reasons = []
    for weight, similarity, own_score, example in nudges[: config.example_neighbours]:
        name = f"labeled article #{example.id}" if example.id is not None else "topic example"
        verdict = "relevant" if example.label else "irrelevant"
        evidence_text = (f'similar to {name} "{example.title[:60]}" ({verdict}; similarity {similarity:.2f}, '
                         f"its terms alone scored {own_score:.2f})")
        term = str(example.id) if example.id is not None else None
        reasons.append(Reason("example", evidence_text, "example", weight, term=term))
    return reasons


def _score_doc(doc: _Doc, topic: Topic, examples: Sequence[Example]) -> TopicScore:
    evidence = _evidence(doc, topic)
    logit, reasons = _contributions(topic, evidence)
    nudges = _example_reasons(doc, topic, evidence, examples)
    logit += sum(r.weight for r in nudges)
    reasons.extend(nudges)
    # Strongest evidence first, capped so stored JSON stays small; what is missing always stays,
    # then up to _MAX_IGNORED matches that did not count because of who acts.
    missing = [r for r in reasons if r.feature.startswith("missing:")]
    ignored = [r for r in reasons if r.feature.startswith("ignored:")]
    found = sorted((r for r in reasons if not r.feature.startswith(("missing:", "ignored:"))),
                   key=lambda r: -abs(r.weight))
    reasons = found[:_MAX_REASONS] + missing + ignored[:_MAX_IGNORED]
    value = _sigmoid(logit)
    return TopicScore(
        topic=topic.name,
        score=value,
        threshold=topic.threshold,
        matched=value >= topic.threshold,
        reasons=reasons,
        language=doc.language,
    )


def score(
    title: str | None,
    text: str,
    language: str | None,
    topic: Topic,
    examples: Sequence[Example] = (),
) -> TopicScore:
    """Score one cleaned article (title and text only, never page boilerplate) against one topic.

    `language` is ``ko``/``en`` or None to detect it from the Hangul share. `examples` are readers'
    verdicts on stored articles: the most similar ones nudge the score toward their label, each
    with a reason naming it, so a mistake a reader has corrected becomes rarer.
    """
    return _score_doc(_Doc(title, text, language), topic, examples)


def score_all(
    title: str | None,
    text: str,
    language: str | None,
    topics: Sequence[Topic],
    examples_by_topic: Mapping[str, Sequence[Example]] | None = None,
) -> list[TopicScore]:
    """Score one article against every topic, normalising and locating its text only once."""
    doc = _Doc(title, text, language)
    examples_by_topic = examples_by_topic or {}
    return [_score_doc(doc, topic, examples_by_topic.get(topic.name, ())) for topic in topics]
