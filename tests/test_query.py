"""Topic queries (pipelines/scoring/query.py, query_groups.py): the grammar, its errors with their
position, and scoring through the term groups' rules (Korean spacing, English plurals, aliases)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from pipelines.scoring.query import And, Near, Not, Or, QueryError, Term, parse_query
from pipelines.scoring.query_groups import query_groups
from pipelines.scoring.scorer import score
from pipelines.scoring.topics import Topic, TopicConfig, resolve_topics
from scheduler import cli

EXAMPLE = ('(인공지능 OR AI OR "machine learning") AND (정부 OR 부처 OR government OR ministry) '
           "NOT (주가 OR stock)")


def topic(query: str, **fields: object) -> Topic:
    return Topic(TopicConfig(name="q", query=query, **fields))


def matched(query: str, title: str, text: str = "", **fields: object) -> bool:
    return score(title, text, None, topic(query, **fields)).matched


# -- the grammar ---------------------------------------------------------------------------------


def test_the_issue_example_parses_to_and_of_ors_with_a_not() -> None:
    tree = parse_query(EXAMPLE)
    assert isinstance(tree, And) and len(tree.nodes) == 3
    first, second, third = tree.nodes
    assert isinstance(first, Or) and [t.text for t in first.nodes] == ["인공지능", "AI", "machine learning"]
    assert isinstance(second, Or) and len(second.nodes) == 4
    assert isinstance(third, Not) and isinstance(third.node, Or)


def test_precedence_near_over_not_over_and_over_or() -> None:
    tree = parse_query("a OR b c NOT d NEAR/3 e")
    assert isinstance(tree, Or)
    left, right = tree.nodes
    assert left == Term("a", 0)
    assert isinstance(right, And)  # b (implicit AND) c AND NOT (d NEAR/3 e)
    b, c, negated = right.nodes
    assert (b, c) == (Term("b", 5), Term("c", 7))
    assert isinstance(negated, Not) and isinstance(negated.node, Near) and negated.node.distance == 3


def test_lower_case_operators_are_words_and_quoted_operators_are_terms() -> None:
    tree = parse_query('rock and roll "OR"')
    assert isinstance(tree, And)
    assert [t.text for t in tree.nodes] == ["rock", "and", "roll", "OR"]


@pytest.mark.parametrize(("query", "position", "words"), [
    ("(AI OR 정부", 10, 'the "(" at position 1 is not closed: expected ")"'),
    ("AI AND", 7, "the query ends where a term is expected"),
    ('AI "machine learning', 4, "a quoted phrase is not closed"),
    ("AI OR OR 정부", 7, "found the operator OR"),
    ("AI) OR 정부", 3, 'a ")" without its "("'),
    ("()", 2, "empty parentheses"),
    ("AI NEAR/0 정부", 4, "NEAR needs a distance"),
    ("AI NEAR/x 정부", 4, "NEAR needs a distance"),
    ("(AI AND 정부) NEAR/3 예산", 2, "NEAR joins terms"),
    ("NOT stock", 1, "only says what to leave out"),
    ('AI ""', 4, "an empty quoted phrase"),
    ("", 1, "the query is empty"),
    ('"re:(x" AND 정부', 1, "not a valid term"),
])
def test_malformed_queries_say_what_and_point_at_where(query: str, position: int, words: str) -> None:
    with pytest.raises(QueryError) as caught:
        query_groups(query)
    error = caught.value
    assert words in str(error)
    assert error.position + 1 == position, str(error)
    assert f"at position {position}" in str(error)
    # The caret line sits under the character, Hangul counting two cells.
    query_line, caret_line = str(error).splitlines()[-2:]
    assert query_line.strip() == query.strip()
    assert caret_line.endswith("^")


def test_caret_counts_hangul_as_two_cells() -> None:
    with pytest.raises(QueryError) as caught:
        parse_query("정부 AND")
    caret_line = str(caught.value).splitlines()[-1]
    # "정부 AND" is 8 cells wide; the caret is after it, under cell 9 (plus the 4-space indent).
    assert caret_line == " " * (4 + 8) + "^"


# -- scoring -------------------------------------------------------------------------------------


def test_the_issue_example_matches_korean_and_english_and_drops_the_not() -> None:
    assert matched(EXAMPLE, "정부, 인공지능 연구 지원 확대", "과학기술정보통신부는 인공지능 예산을 늘렸다.")
    assert matched(EXAMPLE, "Government backs machine-learning research", "The ministry said so.")
    assert not matched(EXAMPLE, "AI stocks jump as government plan lands", "Stock prices rose.")
    assert not matched(EXAMPLE, "정부, 반도체 지원", "부처 합동 발표")  # no AI term


def test_or_needs_one_and_needs_all() -> None:
    assert matched("AI OR 로봇", "로봇 산업 육성")
    assert not matched("AI AND 로봇", "로봇 산업 육성")
    assert matched("AI AND 로봇", "AI 로봇 산업 육성")
    assert matched("AI 로봇", "AI 로봇 산업 육성")  # adjacent terms: an implicit AND
    assert not matched("AI 로봇", "로봇 산업 육성")


def test_korean_spacing_follows_the_term_groups_rules() -> None:
    # A term written with a space matches with or without one, and a particle may follow.
    assert matched('"AI 기본법"', "AI기본법 국회 통과")
    assert matched('"AI 기본법"', "AI 기본법이 국회를 통과했다")
    assert matched('"인공 지능"', "인공지능 대학원 추가 선정")


def test_english_plurals_hyphens_and_word_boundaries() -> None:
    assert matched("minister", "Ministers weigh new rules")
    assert matched("government", "Governments back the plan")
    assert matched("institute", "Four national research institutes")
    assert matched('"data centre"', "AI data-centre demand surges")
    assert not matched("AI", "KAIST opens new campus")  # an acronym never matches inside a word
    assert not matched("AI", "OpenAI releases a model")


def test_quoted_aliases_work_as_in_term_groups() -> None:
    tree = topic('"과학기술정보통신부 = 과기정통부 = MSIT" AND 예산')
    result = score("MSIT budget: 예산 확대", "", None, tree)
    assert result.matched
    names = {r.term for r in result.reasons if r.feature == "query-1"}
    assert names == {"과학기술정보통신부"}, "an alias is reported under its first name"


def test_near_counts_only_within_n_words_and_says_why_not() -> None:
    near = topic("AI NEAR/3 정부")
    assert score("", "AI 관련 정부 발표가 있었다", None, near).matched
    far = score("", "AI 는 하나 둘 셋 넷 다섯 여섯 정부", None, near)
    assert not far.matched
    ignored = [r for r in far.reasons if r.feature == "ignored:query"]
    assert ignored and "AI NEAR/3 정부 does not hold" in (ignored[0].context or "")


def test_a_nested_clause_is_a_condition() -> None:
    nested = topic("AI AND (정부 OR (대학 AND 예산))")
    assert score("AI 대학 예산 확대", "", None, nested).matched
    assert not score("AI 대학 입시", "", None, nested).matched
    assert score("AI 정부 발표", "", None, nested).matched


def test_not_inside_a_clause() -> None:
    clause = topic("AI AND (정부 OR NOT 기업)")
    assert score("AI 정부 발표", "", None, clause).matched


def test_a_query_and_term_groups_combine() -> None:
    combined = Topic(TopicConfig.model_validate({
        "name": "c", "query": "AI OR 인공지능",
        "terms": {"actor": {"mode": "require", "sets": [{"match": ["정부 = government"]}]}},
    }))
    assert score("정부, AI 연구 지원", "", None, combined).matched
    assert not score("AI 스타트업 투자 유치", "", None, combined).matched
    assert {"query", "actor"} <= set(combined.config.terms)


def test_reasons_name_the_clause_and_a_missing_clause_is_said() -> None:
    result = score("인공지능 대학원 선정", "", None, topic(EXAMPLE))
    missing = [r for r in result.reasons if r.feature == "missing:query-2"]
    assert missing and missing[0].evidence == "정부 OR 부처 OR government OR ministry"


def test_a_mention_deep_in_the_body_is_borderline_not_a_sure_match() -> None:
    body = "\n".join(["시장 동향을 다룬 기사다."] * 30 + ["끝으로 정부와 AI 이야기가 나왔다."])
    result = score("시장 동향", body, None, topic("AI AND 정부"))
    assert 0.25 < result.score < 0.75


# -- in the config -------------------------------------------------------------------------------


def test_a_topic_with_only_a_query_resolves_beside_the_builtin() -> None:
    names = [t.name for t in resolve_topics([{"name": "ai-gov", "query": EXAMPLE}])]
    assert names == ["ai-research-policy", "ai-gov"]


def test_a_malformed_query_in_the_config_exits_2_with_the_position(tmp_path: Path) -> None:
    config = tmp_path / "newswatch.toml"
    config.write_text('[[topics]]\nname = "broken"\nquery = "(AI OR 정부"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(config), "matches"], obj={})
    assert result.exit_code == 2, result.output
    assert 'topics[0] "broken": query: the "(" at position 1 is not closed' in result.output
    assert "at position 10" in result.output and "    (AI OR 정부\n" in result.output
    assert "Traceback" not in result.output


def test_explain_shows_query_reasons(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    sentence = "과학기술정보통신부는 인공지능 연구 예산을 늘린다고 밝혔다. "
    page.write_text("<html><head><title>정부, 인공지능 연구 지원</title></head><body><article>"
                    f"<h1>정부, 인공지능 연구 지원</h1><p>{sentence * 8}</p></article></body></html>",
                    encoding="utf-8")
    config = tmp_path / "newswatch.toml"
    config.write_text(f'[[topics]]\nname = "ai-gov"\nquery = \'{EXAMPLE}\'\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(config), "explain", str(page)], obj={})
    assert result.exit_code == 0, result.output
    assert "ai-gov: MATCH" in result.output
    assert "query-1" in result.output and "query-2" in result.output


def test_a_compiled_topic_dumps_and_loads_without_adding_its_groups_twice() -> None:
    original = topic(EXAMPLE)
    again = Topic(TopicConfig.model_validate(original.config.model_dump()))
    assert set(again.config.terms) == {"query-1", "query-2", "query-not"}
    assert original.query == EXAMPLE and again.query is None
    title = "정부, 인공지능 연구 지원"
    assert score(title, "", None, again).score == pytest.approx(score(title, "", None, original).score)
