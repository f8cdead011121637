"""A topic in one line: a Boolean query parsed into a tree, then compiled to ordinary term groups.

``(인공지능 OR AI OR "machine learning") AND (정부 OR government) NOT (주가 OR stock)`` becomes
one ``require`` group per AND-ed clause and one strong ``penalty`` group per NOT-ed clause, so the
existing scorer (pipelines/scoring/scorer.py) scores it: locations, reasons, ``explain``, labels and
``rescore`` work unchanged, and its terms match by the term groups' rules (Korean spacing, English
plurals and hyphens, ``A = B`` aliases). A clause that a flat list of terms cannot say (``A NEAR/5 B``,
``A OR (B AND C)``) keeps its tree as a *condition*: its group's matches count only where the
condition holds in the article.

Grammar (operators in capitals; precedence NEAR, NOT, AND, OR)::

    query   := or
    or      := and ("OR" and)*
    and     := unary (("AND" | "NOT" | <nothing>) unary)*    A NOT B = A AND NOT B; A B = A AND B
    unary   := "NOT" unary | near
    near    := primary ("NEAR/" n primary)*                   within n words of each other
    primary := word | "quoted phrase" | "(" or ")"

A recursive-descent parser: the grammar is a dozen lines, and errors can point at the character.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from rich.cells import cell_len

# A NOT clause's weight and saturation: one mention anywhere is enough to drop the article
# (-20 log-odds), as NOT means in every Boolean search; its reason still shows what matched.
NOT_WEIGHT = 20.0
NOT_SATURATION = 0.05
# An AND clause saturates sooner than a hand-written group (1.0): a query says "present", so one
# mention in the lead nearly fills it, while one deep in the body leaves the article borderline.
CLAUSE_SATURATION = 0.5
MAX_QUERY = 2000
MAX_NEAR = 100

_TOKEN = re.compile(r'\s*(?:(?P<open>\()|(?P<close>\))|"(?P<phrase>[^"]*)(?P<closed>"?)'
                    r'|(?P<near>NEAR/(?P<distance>\S*?)(?=[\s()"]|$))|(?P<word>[^\s()"]+))')
_OPERATORS = ("AND", "OR", "NOT")


class QueryError(ValueError):
    """A query that cannot be parsed: the message, and where (a character offset) it went wrong."""

    def __init__(self, message: str, query: str, position: int) -> None:
        self.reason = message
        self.query = query
        self.position = position
        super().__init__(f"{message} at position {position + 1}\n{caret(query, position)}")


def caret(query: str, position: int) -> str:
    """The query on one line and a caret under `position`, aligned in terminal cells (Hangul is 2)."""
    line = query.replace("\n", " ").replace("\t", " ")
    return f"    {line}\n    {' ' * cell_len(line[:position])}^"


@dataclass(frozen=True)
class Term:
    """One term, written as in a term group's `match` list (``"A = B"`` aliases included)."""

    text: str
    position: int


@dataclass(frozen=True)
class Not:
    node: Node
    position: int


@dataclass(frozen=True)
class And:
    nodes: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    nodes: tuple[Node, ...]


@dataclass(frozen=True)
class Near:
    """Every operand within `distance` words of the next: ``A NEAR/5 B NEAR/5 C`` is a chain."""

    nodes: tuple[Node, ...]
    distance: int


Node = Term | Not | And | Or | Near


@dataclass(frozen=True)
class _Token:
    kind: str  # open, close, term, AND, OR, NOT, NEAR, end
    text: str
    position: int
    distance: int = 0


def _tokens(query: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(query):
        match = _TOKEN.match(query, position)
        if match is None or match.end() == position:  # only trailing spaces are left
            break
        if match.group("open"):
            tokens.append(_Token("open", "(", match.start("open")))
        elif match.group("close"):
            tokens.append(_Token("close", ")", match.start("close")))
        elif match.group("phrase") is not None:
            start = match.start("phrase") - 1
            if not match.group("closed"):
                raise QueryError('a quoted phrase is not closed: add the closing "', query, start)
            if not match.group("phrase").strip():
                raise QueryError("an empty quoted phrase", query, start)
            tokens.append(_Token("term", match.group("phrase").strip(), start))
        elif match.group("near"):
            start = match.start("near")
            distance = match.group("distance")
            if not distance.isdigit() or not 1 <= int(distance) <= MAX_NEAR:
                raise QueryError(f"NEAR needs a distance in words from 1 to {MAX_NEAR}, e.g. NEAR/5",
                                 query, start)
            tokens.append(_Token("NEAR", "NEAR", start, int(distance)))
        else:
            word = match.group("word")
            start = match.start("word")
            kind = word if word in _OPERATORS else "term"
            tokens.append(_Token(kind, word, start))
        position = match.end()
    tokens.append(_Token("end", "", len(query.rstrip())))
    return tokens


class _Parser:
    """Recursive descent over the token list; each method parses one rule of the grammar above."""

    def __init__(self, query: str) -> None:
        self.query = query
        self.tokens = _tokens(query)
        self.index = 0

    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def take(self) -> _Token:
        token = self.token
        self.index += 1
        return token

    def fail(self, message: str, token: _Token | None = None) -> QueryError:
        return QueryError(message, self.query, (token or self.token).position)

    def parse(self) -> Node:
        if self.token.kind == "end":
            raise self.fail("the query is empty: write terms joined by AND, OR, NOT")
        node = self.or_()
        if self.token.kind == "close":
            raise self.fail('a ")" without its "("')
        if self.token.kind != "end":
            raise self.fail(f"unexpected {self.token.text!r}")
        return node

    def or_(self) -> Node:
        nodes = [self.and_()]
        while self.token.kind == "OR":
            self.take()
            nodes.append(self.and_())
        return nodes[0] if len(nodes) == 1 else Or(tuple(nodes))

    def and_(self) -> Node:
        nodes = [self.unary()]
        while self.token.kind in ("AND", "NOT", "term", "open"):
            if self.token.kind == "AND":
                self.take()
            nodes.append(self.unary())  # NOT is left for unary: A NOT B is A AND (NOT B)
        return nodes[0] if len(nodes) == 1 else And(tuple(nodes))

    def unary(self) -> Node:
        if self.token.kind == "NOT":
            token = self.take()
            return Not(self.unary(), token.position)
        return self.near()

    def near(self) -> Node:
        first = self.primary()
        nodes, distance = [first], 0
        while self.token.kind == "NEAR":
            token = self.take()
            if distance and token.distance != distance:
                raise self.fail("a chain of NEAR needs one distance; use parentheses", token)
            distance = token.distance
            nodes.append(self.primary())
        if len(nodes) == 1:
            return first
        for node in nodes:
            if not _terms_only(node):
                raise QueryError("NEAR joins terms or (A OR B) groups, not AND or NOT", self.query,
                                 _position(node))
        return Near(tuple(nodes), distance)

    def primary(self) -> Node:
        token = self.token
        if token.kind == "term":
            self.take()
            return Term(token.text, token.position)
        if token.kind == "open":
            self.take()
            if self.token.kind == "close":
                raise self.fail("empty parentheses")
            node = self.or_()
            if self.token.kind != "close":
                raise self.fail(f'the "(" at position {token.position + 1} is not closed: expected ")"')
            self.take()
            return node
        if token.kind == "end":
            raise self.fail("the query ends where a term is expected")
        if token.kind == "close":
            raise self.fail('expected a term before ")"')
        raise self.fail(f"expected a term, found the operator {token.text}; quote it to search for "
                        f'the word ("{token.text}")')


def _terms_only(node: Node) -> bool:
    return isinstance(node, Term) or (isinstance(node, Or | Near) and all(map(_terms_only, node.nodes)))


def _position(node: Node) -> int:
    if isinstance(node, Term | Not):
        return node.position
    return _position(node.nodes[0])


def parse_query(query: str) -> Node:
    """The query's tree; a QueryError names what is wrong and where."""
    if len(query) > MAX_QUERY:
        raise QueryError(f"the query is longer than {MAX_QUERY} characters", query[:80], 80)
    if "\n" in query or "\r" in query:
        raise QueryError("write the query on one line", query, query.find("\n" if "\n" in query else "\r"))
    return _Parser(query).parse()


def all_terms(node: Node) -> Iterator[Term]:
    if isinstance(node, Term):
        yield node
    elif isinstance(node, Not):
        yield from all_terms(node.node)
    else:
        for child in node.nodes:
            yield from all_terms(child)


def render(node: Node, top: bool = True) -> str:
    """The node written back as a query (for descriptions and reasons)."""
    if isinstance(node, Term):
        return f'"{node.text}"' if re.search(r'[\s()]', node.text) or node.text in _OPERATORS \
            else node.text
    if isinstance(node, Not):
        return f"NOT {render(node.node, False)}"
    if isinstance(node, Near):
        text = f" NEAR/{node.distance} ".join(render(n, False) for n in node.nodes)
    else:
        text = (" AND " if isinstance(node, And) else " OR ").join(render(n, False) for n in node.nodes)
    return text if top else f"({text})"


# -- evaluating a condition on an article ---------------------------------------------------------

Spans = list[tuple[int, int]]
# The matches of one term in the article, by the term's text: provided by the scorer.
FindTerm = Callable[[str], Spans]


def holds(node: Node, find: FindTerm, text: str) -> bool:
    """Whether the article satisfies the node; `find` gives a term's matches in `text`."""
    if isinstance(node, Term):
        return bool(find(node.text))
    if isinstance(node, Not):
        return not holds(node.node, find, text)
    if isinstance(node, And):
        return all(holds(n, find, text) for n in node.nodes)
    if isinstance(node, Or):
        return any(holds(n, find, text) for n in node.nodes)
    return bool(_spans(node, find, text))


def _spans(node: Node, find: FindTerm, text: str) -> Spans:
    """Where a term-only node matches; for NEAR, the stretches from one operand to the next."""
    if isinstance(node, Term):
        return find(node.text)
    if isinstance(node, Or):
        return sorted(span for n in node.nodes for span in _spans(n, find, text))
    if not isinstance(node, Near):
        return []
    found = _spans(node.nodes[0], find, text)
    for operand in node.nodes[1:]:
        other = _spans(operand, find, text)
        found = [(min(a, c), max(b, d)) for a, b in found for c, d in other
                 if _words_between(text, (a, b), (c, d)) <= node.distance]
        if not found:
            return []
    return found


def _words_between(text: str, first: tuple[int, int], second: tuple[int, int]) -> int:
    """Words strictly between two matches (0 when they touch or overlap), in either order."""
    low, high = (first, second) if first[0] <= second[0] else (second, first)
    return len(text[low[1]:high[0]].split()) if high[0] > low[1] else 0
