"""Tests for pipelines/scoring/topics.py: the topic model, the built-in topic file, merging and compiling."""

from __future__ import annotations

import math
import tomllib

import pytest

from pipelines.scoring.scorer import score
from pipelines.scoring.topics import (
    DEFAULT_TOPIC,
    TOPIC_DATA,
    Topic,
    TopicConfig,
    builtin_topics,
    load_topic_file,
    resolve_topics,
    variant_regex,
)

QUANTUM = {
    "name": "quantum-policy",
    "description": "Public quantum technology programmes",
    "threshold": 0.6,
    "terms": {
        "quantum": {"sets": [{"lang": "any", "match": ["양자 = quantum", "큐비트 = qubit"]}]},
        "actor": {"sets": [{"lang": "ko", "match": ["정부", "과기정통부"]},
                           {"lang": "en", "match": ["government", "ministry"]}]},
        "business": {"mode": "penalty", "weight": 2.0, "sets": [{"match": ["shares", "주가"]}]},
    },
}


def test_builtin_topic_ships_as_data_and_loads_through_the_model():
    topics = builtin_topics()
    assert [t.name for t in topics] == [DEFAULT_TOPIC]
    assert (TOPIC_DATA / f"{DEFAULT_TOPIC}.toml").is_file()
    # Loaded as a user's file: every pattern is compiled to be checked (built-ins skip that).
    config = load_topic_file(TOPIC_DATA / f"{DEFAULT_TOPIC}.toml")
    assert isinstance(config, TopicConfig)
    assert config == topics[0]
    assert {"ai", "actor", "action"} <= {n for n, g in config.terms.items() if g.mode == "require"}
    assert 0 < config.threshold < 1


@pytest.mark.parametrize("user", [None, []])
def test_no_user_entries_gives_the_builtin_topic(user):
    topics = resolve_topics(user)
    assert [t.name for t in topics] == [DEFAULT_TOPIC]
    assert isinstance(topics[0], Topic)


def test_user_entry_by_name_overrides_only_what_it_sets():
    builtin = resolve_topics()[0].config
    (topic,) = resolve_topics([{"name": DEFAULT_TOPIC, "threshold": 0.6}])
    assert topic.threshold == 0.6
    assert topic.config.terms == builtin.terms
    assert topic.config.prior == builtin.prior


def test_override_merges_term_groups_by_name():
    extra = {"sets": [{"lang": "ko", "match": ["스마트팜"]}], "mode": "penalty", "weight": 1.0}
    (topic,) = resolve_topics([TopicConfig(name=DEFAULT_TOPIC, terms={"farming": extra})])
    assert "farming" in topic.config.terms
    assert "ai" in topic.config.terms  # the built-in groups are kept


def test_builtin_can_be_switched_off():
    topics = resolve_topics([{"name": DEFAULT_TOPIC, "enabled": False}, QUANTUM])
    assert [t.name for t in topics] == ["quantum-policy"]


def test_user_topic_from_dict_loads_and_scores():
    topics = resolve_topics([QUANTUM])
    assert [t.name for t in topics] == [DEFAULT_TOPIC, "quantum-policy"]
    quantum = topics[1]
    hit = score("Government doubles quantum research budget",
                "The ministry will fund three qubit research centres at universities.", None, quantum)
    assert hit.matched, hit.to_json()
    assert {r.term for r in hit.reasons} >= {"양자", "큐비트"}  # canonical names across scripts
    miss = score("정부, AI 대학원 10곳 추가 선정", "과기정통부는 인공지능 대학원을 늘린다.", None, quantum)
    assert not miss.matched


def test_user_topics_from_toml_config_tables():
    config = tomllib.loads(
        """
        [[topics]]
        name = "ai-research-policy"
        threshold = 0.55

        [[topics]]
        name = "quantum-policy"
        [topics.terms.quantum]
        sets = [{ match = ["quantum", "양자"] }]
        """
    )
    topics = resolve_topics(config["topics"])
    assert [(t.name, t.threshold) for t in topics] == [(DEFAULT_TOPIC, 0.55), ("quantum-policy", 0.5)]


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"name": DEFAULT_TOPIC, "threshold": 1.5}, "threshold"),
        ({"name": DEFAULT_TOPIC, "treshold": 0.5}, "treshold"),
        ({"name": "bad name!"}, "name"),
        ({**QUANTUM, "terms": {"q": {"sets": [{"match": ["re:(unclosed"]}]}}}, "terms.q.sets.0.match"),
        ({**QUANTUM, "terms": {"q": {"sets": [{"match": ["re:(a|b)"]}]}}}, "capturing group"),
        ({**QUANTUM, "terms": {"q": {"sets": [{"match": ["x"], "where": ["footer"]}]}}}, "where"),
        ({**QUANTUM, "terms": {"q": {"mode": "compete", "sets": [{"match": ["x"]}]}}}, "against"),
        ({**QUANTUM, "terms": {"q": {"mode": "penalty", "sets": [{"match": ["x"]}]}}}, "require"),
        ({"name": "new-topic", "threshold": 0.4}, "terms"),
        ({**QUANTUM, "terms": {"q": {"sets": [{"match": ["x"], "near": ["nope"]}]}}}, "terms.q.sets.0.near"),
        ({**QUANTUM, "terms": {"q": {"sets": [{"match": ["x"], "unless_near": ["q"]}]}}}, "its own group"),
        ({**QUANTUM, "terms": {"q": {"sets": [{"match": ["x"], "alone": True}]}}}, "alone"),
        ({**QUANTUM, "terms": {"q": {"sets": [{"match": ["x"], "near": ["c"], "unless_near": ["c"]}]},
                               "c": {"mode": "context", "sets": [{"match": ["y"]}]}}}, "both"),
        ({**QUANTUM, "terms": {"q": {"sets": [{"match": ["re:(?i)Quantum"]}]}}}, "lower case"),
        ({**QUANTUM, "terms": {"c": {"mode": "context", "sets": [{"match": ["y"]}]}}}, "require"),
    ],
)
def test_invalid_topic_config_names_the_field(entry, field):
    with pytest.raises(ValueError, match="topics\\[0\\]") as info:
        resolve_topics([entry])
    assert field in str(info.value)


def test_duplicate_names_are_rejected_naming_both():
    with pytest.raises(ValueError) as info:
        resolve_topics([QUANTUM, {"name": DEFAULT_TOPIC, "threshold": 0.7}, QUANTUM])
    message = str(info.value)
    assert "topics[0]" in message and "topics[2]" in message and "quantum-policy" in message


def test_duplicate_builtin_override_is_rejected():
    with pytest.raises(ValueError, match="topics\\[0\\] and topics\\[1\\]"):
        resolve_topics([{"name": DEFAULT_TOPIC}, {"name": DEFAULT_TOPIC, "threshold": 0.7}])


@pytest.mark.parametrize(
    ("variant", "text", "found"),
    [
        ("AI", "KAIST 연구진", False),
        ("AI", "OpenAI said", False),
        ("AI", "MAIN street", False),
        ("AI", "AI에이전트가 이끄는", True),
        ("AI", "생성형 AI를", True),
        ("AI 기본법", "AI기본법 시행", True),
        ("인공지능 대학원", "인공지능대학원 선정", True),
        ("정책", "AI정책을", True),
        ("foundation model", "foundation-model taskforce", True),
        ("foundation model", "foundation models", True),
        ("start-up", "a startup founder", True),
        ("EU", "Europe", False),
    ],
)
def test_variant_boundaries(variant, text, found):
    topic = Topic(TopicConfig(name="probe", terms={"t": {"sets": [{"match": [variant]}]}}))
    (matcher,) = topic.matchers(None)
    assert bool(matcher.find(text, text.lower())) is found
    assert variant_regex(variant)  # the same pattern the validator compiles


def test_matchers_compile_once_per_language():
    topic = resolve_topics()[0]
    assert topic.matchers("ko") is topic.matchers("ko")
    names = {m.name for m in topic.matchers("en")}
    assert {"ai", "actor", "action", "business"} <= names
    # A language the topic has no terms for gets every term set rather than none.
    assert topic.matchers("de") is topic.matchers(None)


def test_examples_shipped_with_a_topic_nudge_like_reader_labels():
    article = ("카카오, 서울대와 AI 공동연구센터 개소…과기정통부 차관 참석",
               "카카오가 서울대와 인공지능(AI) 공동연구센터를 "
               "열었다. 개소식에는 과기정통부 차관이 참석했다.\n"
               "카카오는 연구 성과를 자사 AI 서비스에 적용할 계획이다.")
    example = {"title": "네이버, KAIST와 AI 공동연구센터 설립…과기정통부 장관 축사",
               "text": "네이버가 KAIST와 인공지능(AI) 공동연구센터를 설립했다. 행사에는 과기정통부 장관이 "
                       "참석했다.\n네이버는 연구 결과를 자사 AI 서비스에 활용할 방침이다.",
               "label": False}
    (plain,) = resolve_topics()
    (taught,) = resolve_topics([{"name": DEFAULT_TOPIC, "examples": [example]}])
    before, after = score(*article, "ko", plain), score(*article, "ko", taught)
    assert after.score < before.score
    assert any(r.feature == "example" and "topic example" in r.evidence for r in after.reasons)


# Who acts: a set with `near`/`unless_near` counts a match only as the closest cue in its sentence decides.
LAUNCH_TOPIC = {
    "name": "launches",
    "terms": {
        "launch": {"mode": "boost", "weight": 2.0, "sets": [
            {"match": ["launch", "launched"], "near": ["company"], "unless_near": ["public"]},
            {"match": ["debut"], "near": ["company"], "alone": True},
        ]},
        "company": {"mode": "context", "sets": [{"match": ["Acme", "the firm"]}]},
        "public": {"mode": "context", "sets": [{"match": ["ministry", "government"]}]},
    },
}


def _launch_reasons(text: str, topic: Topic) -> list[tuple[str, str, str | None]]:
    result = score(None, text, "en", topic)
    return [(r.feature, r.evidence, r.context) for r in result.reasons]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Acme launched a phone.", [("launch", "launched", 'closest cue "Acme" (company)')]),
        ("The ministry launched a plan with Acme.",
         [("ignored:launch", "launched", 'closest cue "ministry" (public)')]),
        ("Acme launched it at a government fair.", [("launch", "launched", 'closest cue "Acme" (company)')]),
        ("They launched it.", [("ignored:launch", "launched", "no company in its sentence")]),
        ("The ministry launched it.", [("ignored:launch", "launched", "no company in its sentence")]),
        # The cue must be in the same sentence; a full stop before a lower-case word does not end one.
        ("Acme said so. Then it launched.", [("ignored:launch", "launched", "no company in its sentence")]),
        ("Acme Inc. launched it.", [("launch", "launched", 'closest cue "Acme" (company)')]),
        ("Its debut was quiet.", [("launch", "debut", "no company in its sentence; counts alone")]),
    ],
)
def test_the_closest_cue_in_the_sentence_decides_whether_a_match_counts(text, expected):
    (topic,) = resolve_topics([{"name": DEFAULT_TOPIC, "enabled": False}, LAUNCH_TOPIC])
    assert _launch_reasons(text, topic) == expected


def test_a_tie_between_cues_goes_to_unless_near():
    topic = Topic(TopicConfig.model_validate({**LAUNCH_TOPIC, "terms": {
        **LAUNCH_TOPIC["terms"],
        "launch": {"mode": "boost",
                   "sets": [{"match": ["x"], "near": ["company"], "unless_near": ["public"]}]},
    }}))
    assert [f for f, _, _ in _launch_reasons("Acme x ministry.", topic)] == ["ignored:launch"]


def test_context_groups_move_nothing():
    (topic,) = resolve_topics([{"name": DEFAULT_TOPIC, "enabled": False}, LAUNCH_TOPIC])
    result = score(None, "Acme and the government met.", "en", topic)
    assert result.reasons == [] and result.score == pytest.approx(1 / (1 + math.exp(-2.0)))


def test_case_insensitive_regex_searches_the_lower_cased_text():
    topic = Topic(TopicConfig(name="probe", terms={"t": {"sets": [{"match": ["re:(?i)national\\s+lab"]}]}}))
    (matcher,) = topic.matchers(None)
    text = "A NATIONAL Lab opened."
    assert [(s, e) for s, e, _ in matcher.find(text, text.lower())] == [(2, 14)]


@pytest.mark.parametrize(
    ("pattern", "anchor", "text"),
    [
        (r"re:(?:national|state)\s+(?:[a-z]+\s+){0,3}?research\s+lab", "research",
         "a national ai research lab"),
        (r"re:(?i)national\s+lab", "national", "A NATIONAL Lab"),
        (r"re:한국[가-힣]{2,12}연구원", "연구원", "한국전자통신연구원이"),
        (r"re:(?i:million)\s+won", "won", "2 Million won"),
        (r"re:[0-9]+\s?억원", "억원", "300억원"),
        (r"re:(?:the|a)\s+bill", "bill", "the bill"),
        (r"re:[$€][0-9]+", None, "$5"),
    ],
)
def test_regex_entries_get_an_anchor_that_every_match_contains(pattern, anchor, text):
    topic = Topic(TopicConfig(name="probe", terms={"t": {"sets": [{"match": [pattern]}]}}))
    (matcher,) = topic.matchers(None)
    (alternative,) = matcher.alternatives
    assert alternative.anchor == anchor
    found = matcher.find(text, text.lower())
    assert found, f"{pattern} should match {text!r}"
    haystack = text.lower() if alternative.fold else text
    assert all(anchor is None or anchor in haystack[s:e] for s, e, _ in found)


def test_a_users_pattern_that_does_not_compile_is_named():
    """Built-in topics skip compiling their patterns to check them; a user's never do."""
    bad = {"name": "mine", "terms": {"x": {"sets": [{"match": ["re:(unclosed"]}]}}}
    with pytest.raises(ValueError, match=r"is not a valid pattern"):
        resolve_topics([bad])


def test_the_anchor_index_finds_what_substring_tests_find() -> None:
    """Scoring looks anchors up in one Aho-Corasick pass (AnchorIndex) instead of one substring
    test per alternative: every group must find the same matches either way, on real pages in
    both languages, including anchors inside other anchors and at the text's edges."""
    from pathlib import Path

    from pipelines.extraction.extract import extract_article
    from pipelines.scoring.scorer import _Doc

    pages = sorted((Path(__file__).parent / "pages").glob("*/*.html"))
    texts = [extract_article(p.read_bytes(), "https://news.example/a").text for p in pages]
    texts += ["AI", "인공지능 기본법", "OpenAI and KAIST: AI research policy, AI기본법"]
    topic = resolve_topics(None)[0]
    compared = 0
    for text in texts:
        for language in ("ko", "en"):
            doc = _Doc("", text, language)
            present = topic.anchor_index(language).present(doc.doc, doc.folded)
            for matcher in topic.matchers(language):
                found = matcher.find(doc.doc, doc.folded, present=present)
                assert found == matcher.find(doc.doc, doc.folded), (matcher.name, text[:60])
                compared += bool(found)
    assert compared > 50, "too few groups matched anything to compare"
