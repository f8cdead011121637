"""A topic's `query` as term groups: one `require` group per AND-ed clause, one `penalty` per NOT.

Kept apart from pipelines/scoring/query.py (the parser, no scoring types) and topics.py (the model)
so each stays small; `Topic` calls `query_groups` when it is built.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pipelines.scoring.query import (
    CLAUSE_SATURATION,
    NOT_SATURATION,
    NOT_WEIGHT,
    And,
    Node,
    Not,
    Or,
    QueryError,
    Term,
    all_terms,
    parse_query,
    render,
)
from pipelines.scoring.topics import TermGroup, TermSet, split_variants, variant_regex

QUERY_GROUP = "query"


@dataclass
class CompiledQuery:
    """The groups a query adds to its topic, and the conditions some of them need."""

    groups: dict[str, TermGroup] = field(default_factory=dict)
    conditions: dict[str, Node] = field(default_factory=dict)
    terms: set[str] = field(default_factory=set)  # every term's text, for evaluating conditions


def query_groups(query: str) -> CompiledQuery:
    """Compile a query; a QueryError names the clause or term that cannot be used, with its position."""
    tree = parse_query(query)
    for term in all_terms(tree):
        _check_term(term, query)
    clauses = list(tree.nodes) if isinstance(tree, And) else [tree]
    positive = [c for c in clauses if not isinstance(c, Not)]
    negative = [c for c in clauses if isinstance(c, Not)]
    if not positive:
        raise QueryError("the query only says what to leave out: add a term to look for, "
                         "e.g. AI NOT stock", query, _start(clauses[0]))
    compiled = CompiledQuery(terms={t.text for t in all_terms(tree)})
    for number, clause in enumerate(positive, 1):
        name = QUERY_GROUP if len(positive) == 1 else f"{QUERY_GROUP}-{number}"
        _add(compiled, name, clause, query, mode="require")
    for number, clause in enumerate(negative, 1):
        name = f"{QUERY_GROUP}-not" if len(negative) == 1 else f"{QUERY_GROUP}-not-{number}"
        _add(compiled, name, clause.node, query, mode="penalty")
    return compiled


def _add(compiled: CompiledQuery, name: str, clause: Node, query: str, *, mode: str) -> None:
    found = list(dict.fromkeys(t.text for t in _counting_terms(clause)))
    if not found:
        raise QueryError("this clause has no term to look for (only NOT terms)", query, _start(clause))
    description = render(clause)
    if mode == "penalty":
        description = f"NOT {render(clause, top=False)}"
        group = TermGroup(mode="penalty", weight=NOT_WEIGHT, saturation=NOT_SATURATION,
                          description=description, sets=[TermSet(match=found)])
    else:
        group = TermGroup(mode="require", saturation=CLAUSE_SATURATION, description=description,
                          sets=[TermSet(match=found)])
    compiled.groups[name] = group
    if not _flat(clause):
        compiled.conditions[name] = clause


def _counting_terms(node: Node) -> list[Term]:
    """The terms whose matches are the clause's evidence: every term not under a NOT."""
    if isinstance(node, Term):
        return [node]
    if isinstance(node, Not):
        return []
    return [t for child in node.nodes for t in _counting_terms(child)]


def _flat(node: Node) -> bool:
    """A term, or terms joined by OR: exactly what a term group says, with no condition."""
    return isinstance(node, Term) or (isinstance(node, Or) and all(map(_flat, node.nodes)))


def _start(node: Node) -> int:
    if isinstance(node, Term | Not):
        return node.position
    return _start(node.nodes[0])


def _check_term(term: Term, query: str) -> None:
    """A term must compile by the term groups' rules (a `re:` term is a regular expression)."""
    for variant in split_variants(term.text):
        try:
            compiled = re.compile(variant_regex(variant))
        except (re.error, ValueError) as exc:
            raise QueryError(f"{term.text!r} is not a valid term: {exc}", query, term.position) from None
        if compiled.groups:
            raise QueryError(f"{term.text!r} has a capturing group: write (?:...) instead of (...)",
                             query, term.position)

