"""Near-duplicate stories: copies across portals join one story, different stories never do.

Every look-up runs against a real store (the band keys live in it): a SQLite file, or a
PostgreSQL database with NEWSWATCH_TEST_DATABASE=postgresql (tests/databases.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import threading
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from scrapy.exceptions import DropItem
from sqlalchemy import delete, func, insert, select

from pipelines.dedupe.minhash import signature
from pipelines.dedupe.near_duplicates import (
    BANDS,
    DEFAULT_THRESHOLD,
    NearDuplicate,
    NearDuplicates,
    band_keys,
)
from pipelines.dedupe.shingles import NUM_PERM, content_text, from_bytes, is_empty, similarity, to_bytes
from pipelines.storage.models import Article, ArticleBand, Source, Story
from pipelines.storage.store import MIGRATIONS, Store, StoredArticle

DATA = Path(__file__).parent / "data" / "near_duplicates"
TEMPLATES = tomllib.loads((DATA / "templates.toml").read_text(encoding="utf-8"))
OUTLETS = {outlet["name"]: outlet for outlet in TEMPLATES["outlet"]}
BLOCKS = {block["name"]: block for block in TEMPLATES["block"]}
# (story, its independent rewrite, two outlets that syndicate it, a line a portal adds)
STORIES = {
    "ko": ("ko-ai-chip", "ko-ai-chip.rewrite", "newsis-like", "daily-like",
           "한편 정부는 다음 주 관계부처 합동 브리핑을 열어 추가 대책을 설명할 예정이다."),
    "en": ("en-port-strike", "en-port-strike.rewrite", "wire-like", "paper-like",
           "This story has been updated with comment from officials."),
}
OTHER = {"ko": "ko-heatwave", "en": "en-wildfire"}
pytestmark = pytest.mark.postgres


def paragraphs(name: str) -> list[str]:
    text = (DATA / f"{name}.txt").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip()]


def render(paras: list[str], outlet: str, block: str | None = None) -> str:
    """The story as an outlet prints it: dateline on the first paragraph, header and footer."""
    template = OUTLETS[outlet]
    lines = [*template["header"], template["prefix"] + paras[0], *paras[1:], *template["footer"]]
    if block is not None:
        extra = BLOCKS[block]["lines"]
        lines = [*extra, *lines] if BLOCKS[block]["kind"] == "series" else [*lines, *extra]
    return "\n".join(lines)


# A signature's values are minima, so a story of ~1,000 shingles has values below 2^32 / 1,000;
# uniform values over the whole range would look like a two-shingle caption and never merge.
LOW_VALUES = 2**32 // 1_000


def random_signature(rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, LOW_VALUES, size=NUM_PERM, dtype=np.uint32)


def near_copy(values: np.ndarray, rng: np.random.Generator, share: float) -> np.ndarray:
    values = values.copy()
    changed = rng.choice(NUM_PERM, size=int(NUM_PERM * (1 - share)), replace=False)
    values[changed] = rng.integers(0, LOW_VALUES, size=changed.size, dtype=np.uint32)
    return values


# -- the store ------------------------------------------------------------------------------------

@pytest.fixture
def store(migrated_url: str) -> Iterator[Store]:
    store = Store(migrated_url)
    with store.session() as session:
        session.add(Source(name="portal", kind="feed", url="https://portal.example/rss"))
    yield store
    store.engine.dispose()


def _store(store: Store, slug: str, text: str, *, fetched_at: datetime | None = None,
           values: np.ndarray | None = None, near: NearDuplicates | None = None,
           minhash: bytes | str | None = "sign") -> StoredArticle:
    """Store an article as the crawl does: signed, looked up, and stored in one transaction."""
    if minhash == "sign":
        minhash = to_bytes(signature(text) if values is None else values)
    fields = {"source_id": 1, "url": f"https://portal.example/{slug}",
              "canonical_url": f"https://portal.example/{slug}", "title": slug, "text": text,
              "language": "ko", "author": None, "fingerprint": slug, "minhash": minhash,
              "fetched_at": fetched_at or datetime.now(UTC)}
    stored = store.add_article(fields, near_duplicates=near)
    assert stored is not None, f"{slug} was not stored"
    return stored


def _find(store: Store, text: str, *, exact: bool = True) -> NearDuplicate | None:
    return store.find_near_duplicate(signature(text), text if exact else None)


def _stories(store: Store) -> int:
    with store.session() as session:
        return session.scalar(select(func.count(func.distinct(Article.story_id)))) or 0


# -- copies join the story ----------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["ko", "en"])
def test_copy_in_another_outlets_template_joins_the_story(store: Store, lang: str) -> None:
    name, _, first, second, _ = STORIES[lang]
    original, copy = render(paragraphs(name), first), render(paragraphs(name), second)
    stored = _store(store, "original", original)
    for exact in (True, False):  # exact check, and the estimate alone
        found = _find(store, copy, exact=exact)
        assert found is not None and found[:2] == stored[:2], f"{lang} copy not merged: {found}"
        assert found.similarity > 0.95
    syndicated = _store(store, "copy", copy)
    assert syndicated.story_id == stored.story_id, f"the {lang} copy started a story of its own"
    assert syndicated.joined == stored.article_id and syndicated.similarity > 0.95  # type: ignore[operator]


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_copy_without_the_last_paragraph_joins_the_story(store: Store, lang: str) -> None:
    name, _, first, second, _ = STORIES[lang]
    stored = _store(store, "original", render(paragraphs(name), first))
    found = _find(store, render(paragraphs(name)[:-1], second))
    assert found is not None and found.story_id == stored.story_id, f"{lang}: {found}"


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_copy_with_an_added_line_joins_the_story(store: Store, lang: str) -> None:
    name, _, first, second, added = STORIES[lang]
    paras = paragraphs(name)
    stored = _store(store, "original", render(paras, first))
    found = _find(store, render([*paras[:3], added, *paras[3:]], second))
    assert found is not None and found.story_id == stored.story_id, f"{lang}: {found}"


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_copy_with_every_edit_at_once_joins_the_story(store: Store, lang: str) -> None:
    name, _, first, second, added = STORIES[lang]
    paras = paragraphs(name)
    stored = _store(store, "original", render(paras, first))
    found = _find(store, render([*paras[:2], added, *paras[2:-1]], second))
    assert found is not None and found.story_id == stored.story_id, f"{lang} edited copy: {found}"


# -- different stories stay apart ----------------------------------------------------------------

@pytest.mark.parametrize("lang", ["ko", "en"])
def test_independent_article_about_the_same_event_is_another_story(store: Store, lang: str) -> None:
    name, rewrite, first, second, _ = STORIES[lang]
    original = render(paragraphs(name), first)
    other = render(paragraphs(rewrite), second)
    assert similarity(original, other) < DEFAULT_THRESHOLD / 2
    _store(store, "original", original)
    assert _find(store, other) is None
    assert _find(store, other, exact=False) is None
    assert _store(store, "rewrite", other).joined is None
    assert _stories(store) == 2


@pytest.mark.parametrize("block", ["ko-footer", "ko-series", "en-footer", "en-series"])
def test_two_stories_under_one_outlets_long_boilerplate_stay_apart(store: Store, block: str) -> None:
    lang = block[:2]
    name, _, outlet, _, _ = STORIES[lang]
    _store(store, "first", render(paragraphs(name), outlet, block))
    second = render(paragraphs(OTHER[lang]), outlet, block)
    assert _find(store, second) is None
    assert _find(store, second, exact=False) is None, "the estimate alone merged them"


def test_a_caption_with_only_template_lines_never_merges(store: Store) -> None:
    caption = "(사진=연합뉴스)\n이수진 기자 sjlee@hanbit.example.kr\nⓒ 한빛일보 무단전재 및 재배포 금지"
    assert content_text(caption) == ""
    _store(store, "caption", caption)
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(ArticleBand)) == 0, "empty: no bands"
    assert _find(store, caption) is None
    assert _store(store, "caption-again", caption + "\n").joined is None


def test_template_lines_go_and_body_paragraphs_that_mention_them_stay() -> None:
    body = ("The newsletter, which the company started in 2019 to reach investors, said on "
            "Tuesday that it would stop publishing next month after its subscriber base fell "
            "by half, a decline it blamed on rising postage costs.")
    text = render([body], "paper-like")
    assert content_text(text).startswith("the newsletter which the company")
    assert "maria" not in content_text(text) and "copyright" not in content_text(text)


# -- signatures and band keys --------------------------------------------------------------------

def test_signature_round_trips_through_bytes() -> None:
    values = signature(render(paragraphs("ko-ev-recall"), "yonhap-like"))
    data = to_bytes(values)
    assert len(data) == 5 + 4 * NUM_PERM
    assert np.array_equal(from_bytes(data), values)
    assert not is_empty(values)
    with pytest.raises(ValueError, match=r"re-run signature\(\)"):
        from_bytes(data[:2] + bytes([data[2] + 1]) + data[3:])  # another version
    with pytest.raises(ValueError, match=r"re-run signature\(\)"):
        from_bytes(data[:-4])


def test_signature_is_the_same_in_any_outlets_template() -> None:
    paras = paragraphs("en-rate-decision")
    signatures = [signature(render(paras, outlet))
                  for outlet in ("wire-like", "paper-like", "aggregator-like")]
    assert all(np.array_equal(signatures[0], other) for other in signatures[1:])


def test_band_keys_pack_the_band_number_above_its_hash() -> None:
    values = random_signature(np.random.default_rng(3))
    keys = band_keys(values)[0]
    assert keys.shape == (BANDS,) and keys.dtype == np.int64
    assert (keys >> 32).tolist() == list(range(BANDS)), "one indexed column serves every band"
    assert ((keys & 0xFFFFFFFF) < 2**32).all() and (keys >= 0).all()  # fits a signed BIGINT
    changed = values.copy()
    changed[0] += 1  # only band 0 differs
    assert (band_keys(changed)[0] != keys).tolist() == [True] + [False] * (BANDS - 1)


# -- the window and the choice -------------------------------------------------------------------

def test_only_articles_fetched_in_the_window_are_candidates(store: Store) -> None:
    now = datetime.now(UTC)
    chip = render(paragraphs("ko-ai-chip"), "newsis-like")
    strike = render(paragraphs("en-port-strike"), "wire-like")
    recent = _store(store, "chip", chip, fetched_at=now - timedelta(days=2))
    old = _store(store, "strike", strike, fetched_at=now - timedelta(days=45))

    copy = render(paragraphs("ko-ai-chip")[:-1], "daily-like")
    found = _find(store, copy)
    assert found is not None and found.article_id == recent.article_id
    assert found.similarity == pytest.approx(similarity(copy, chip)), "verified on the stored text"
    strike_copy = render(paragraphs("en-port-strike"), "paper-like")
    assert _find(store, strike_copy) is None, "the 45-day-old article is outside the 30-day window"
    wider = store.find_near_duplicate(signature(strike_copy), strike_copy,
                                      near_duplicates=NearDuplicates(window_days=60))
    assert wider is not None and wider.article_id == old.article_id
    stored = _store(store, "strike-copy", strike_copy)
    assert stored.joined is None and stored.story_id != old.story_id


def test_find_prefers_the_closest_story(store: Store) -> None:
    rng = np.random.default_rng(9)
    base = random_signature(rng)
    _store(store, "far", "one", values=near_copy(base, rng, 0.6))
    closer = _store(store, "close", "two", values=near_copy(base, rng, 0.9))
    found = store.find_near_duplicate(base)
    assert found is not None and found[:2] == closer[:2]


def test_a_caller_given_story_is_kept_and_an_unsigned_article_takes_no_part(store: Store) -> None:
    chip = render(paragraphs("ko-ai-chip"), "newsis-like")
    stored = _store(store, "chip", chip)
    unsigned = _store(store, "unsigned", render(paragraphs("ko-ai-chip"), "daily-like"), minhash=None)
    assert unsigned.joined is None and unsigned.story_id != stored.story_id
    with store.session() as session:
        own = session.execute(insert(Story)).inserted_primary_key[0]  # type: ignore[index]
    fields = {"source_id": 1, "url": "u", "canonical_url": "u", "text": chip + "\n",
              "fingerprint": "given", "minhash": to_bytes(signature(chip))}
    given = store.add_article(fields, story_id=own)
    assert given is not None and given.story_id == own and given.joined is None


def test_bad_input_is_refused_with_the_fix(store: Store) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        NearDuplicates(threshold=1.5)
    with pytest.raises(ValueError, match="at least 1"):
        NearDuplicates(window_days=0)
    with pytest.raises(ValueError, match="give it a zone"):
        store.find_near_duplicate(random_signature(np.random.default_rng(1)),
                                  now=datetime(2025, 6, 3))
    with pytest.raises(ValueError, match="signature has 64 values"):
        store.find_near_duplicate(np.zeros(64, dtype=np.uint32))


# -- at the same moment --------------------------------------------------------------------------

class _Rendezvous(NearDuplicates):
    """Waits after its look-up until the other writer has looked up too, or for a second.

    Without the write lock both look-ups run before either article is stored, both miss, and
    each copy starts a story: the race two crawl processes (or machines) would otherwise run.
    With it, the second writer cannot look up before the first has committed, so the first
    waits its second out alone and the second finds the first.
    """

    def __init__(self, barrier: threading.Barrier) -> None:
        super().__init__()
        object.__setattr__(self, "barrier", barrier)

    def find(self, *args, **kwargs) -> NearDuplicate | None:  # type: ignore[no-untyped-def]
        found = super().find(*args, **kwargs)
        with contextlib.suppress(threading.BrokenBarrierError):
            self.barrier.wait(timeout=1.0)  # type: ignore[attr-defined]
        return found


def test_two_writers_storing_copies_at_once_make_one_story(migrated_url: str) -> None:
    name, _, first, second, _ = STORIES["ko"]
    copies = {"first": render(paragraphs(name), first), "second": render(paragraphs(name), second)}
    with Store(migrated_url).session() as session:
        session.add(Source(name="portal", kind="feed", url="https://portal.example/rss"))
    barrier = threading.Barrier(2)
    stored: dict[str, StoredArticle] = {}
    errors: list[BaseException] = []

    def write(slug: str) -> None:
        store = Store(migrated_url)  # its own engine and connection: a process of its own, as far as
        try:                   # the database can tell
            stored[slug] = _store(store, slug, copies[slug], near=_Rendezvous(barrier))
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            store.engine.dispose()

    threads = [threading.Thread(target=write, args=(slug,)) for slug in copies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, f"a writer failed: {errors!r}"
    assert stored["first"].story_id == stored["second"].story_id, (
        "two copies stored at once started two stories: the look-up must run inside the "
        "storing transaction, after the write lock (pipelines/storage/store.py _writing)")
    assert [s.joined is not None for s in stored.values()].count(True) == 1


# -- the migration -------------------------------------------------------------------------------

def test_copies_written_in_one_batch_make_one_story_and_a_repeat_is_dropped(store: Store) -> None:
    """The store stage writes the articles that reach it together in one transaction: a copy
    there still joins the story of the original before it, and a repeat of a URL is dropped
    alone, the others stored."""
    from crawler.items import ArticleItem
    from pipelines.stages.store import StorePipeline
    from tests.sql_plans import statements

    name, _, first, second, _ = STORIES["ko"]
    original, copy = render(paragraphs(name), first), render(paragraphs(name), second)
    other, fourth = render(paragraphs(OTHER["ko"]), first), render(paragraphs(OTHER["en"]), second)

    def item(slug: str, text: str) -> ArticleItem:
        url = f"https://portal.example/{slug}"
        return ArticleItem(source="portal", url=url, body=b"", title=slug, text=text,
                           canonical_url=url, fingerprint=f"fp-{slug}",
                           minhash=to_bytes(signature(text)))

    counted: list[str] = []
    stage = StorePipeline(store, NearDuplicates(), lambda _item, key, _n: counted.append(key),
                          batch_size=10, batch_wait=0.2)

    def batch(*items: ArticleItem) -> tuple[list[object], int]:
        async def crawl() -> list[object]:
            return await asyncio.gather(*(stage.process_item(i) for i in items),
                                        return_exceptions=True)

        with statements(store) as seen:
            results = asyncio.run(crawl())
        return results, sum("BEGIN IMMEDIATE" in s or "pg_advisory_xact_lock" in s for s in seen)

    (stored_original, stored_copy, stored_other), writes = batch(
        item("original", original), item("copy", copy), item("other", other))
    assert writes == 1, f"{writes} write transactions for one batch"
    assert stored_copy.story_id == stored_original.story_id != stored_other.story_id
    assert counted.count("dedupe/near_duplicate") == 1
    (repeat, stored_fourth), _ = batch(item("original", original), item("fourth", fourth))
    assert isinstance(repeat, DropItem), repeat
    assert stored_fourth.article_id > stored_other.article_id
    assert (_stories(store), counted.count("store/stored")) == (3, 4)


def _alembic(connection) -> AlembicConfig:  # type: ignore[no-untyped-def]
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def test_migration_gives_bands_to_stored_articles_and_signs_old_ones(database_url: str) -> None:
    store = Store(database_url)
    with store.engine.begin() as connection:
        command.upgrade(_alembic(connection), "0002")
    chip = render(paragraphs("ko-ai-chip"), "newsis-like")
    heat = render(paragraphs("ko-heatwave"), "yonhap-like")
    strike = render(paragraphs("en-port-strike"), "wire-like")
    old_version = bytearray(to_bytes(signature(strike)))
    old_version[2] = 0  # SIGNATURE_VERSION 0: shingled another way
    caption = "(사진=연합뉴스)\nⓒ 한빛일보 무단전재 및 재배포 금지"
    now = datetime.now(UTC)
    rows = [("chip", chip, to_bytes(signature(chip))), ("heat", heat, None),
            ("strike", strike, bytes(old_version)), ("caption", caption, None)]
    with store.engine.begin() as connection:
        connection.execute(insert(Source), [{"name": "portal", "kind": "feed", "url": "x",
                                             "created_at": now, "consecutive_failures": 0}])
        connection.execute(insert(Story), [{"id": i, "created_at": now} for i in range(1, 5)])
        connection.execute(insert(Article), [
            {"id": i, "source_id": 1, "story_id": i, "url": slug, "canonical_url": slug,
             "text": text_, "fingerprint": slug, "fetched_at": now, "minhash": minhash}
            for i, (slug, text_, minhash) in enumerate(rows, start=1)])

    store.migrate()

    with store.session() as session:
        bands = dict(session.execute(select(ArticleBand.article_id, func.count())
                                     .group_by(ArticleBand.article_id)).all())
        signed = dict(session.execute(select(Article.id, Article.minhash)).all())
    assert bands == {1: BANDS, 2: BANDS, 3: BANDS}, "every article with a story has its bands"
    assert np.array_equal(from_bytes(signed[2]), signature(heat)), "unsigned row re-signed"
    assert np.array_equal(from_bytes(signed[3]), signature(strike)), "old version re-signed"
    assert is_empty(from_bytes(signed[4])), "a caption is signed empty and gets no bands"
    for slug, original, outlet in (("chip", "ko-ai-chip", "daily-like"),
                                   ("heat", "ko-heatwave", "portal-like"),
                                   ("strike", "en-port-strike", "paper-like")):
        found = _find(store, render(paragraphs(original), outlet))
        assert found is not None and found.article_id == [r[0] for r in rows].index(slug) + 1

    # Batches of two give the same rows as one batch of all.
    spec = importlib.util.spec_from_file_location(
        "migration_0003", MIGRATIONS / "versions" / "0003_article_bands.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    with store.engine.begin() as connection:
        before = set(connection.execute(select(ArticleBand.key, ArticleBand.article_id)).all())
        connection.execute(delete(ArticleBand))
        assert module.fill_bands(connection, batch=2) == 0, "nothing left to re-sign"
        assert set(connection.execute(select(ArticleBand.key, ArticleBand.article_id)).all()) == before
    store.engine.dispose()


def test_prune_forgets_old_runs_and_the_band_keys_of_articles_out_of_the_window(
        database_url: str) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import func, select, update

    from crawler.config import SourceConfig
    from pipelines.storage.models import Article, ArticleBand, CrawlRun
    from pipelines.storage.store import Store

    store = Store.open(database_url)
    source_id = store.sync_sources([SourceConfig(name="wire", feed="http://wire.example/rss")])["wire"]
    texts = [" ".join(f"Story {n} sentence {k} about the harbour, the council and its budget."
                      for k in range(30)) for n in range(2)]
    for n, body in enumerate(texts):
        store.add_article({"source_id": source_id, "url": f"http://wire.example/{n}",
                           "canonical_url": f"http://wire.example/{n}", "title": f"Story {n}",
                           "text": body, "fingerprint": f"fp{n}",
                           "minhash": to_bytes(signature(body))})
    store.finish_run(store.start_run(source_id), status="ok", error=None, counts={}, stats={})
    now = datetime.now(UTC)
    with store.session() as session:
        session.execute(update(Article).where(Article.url.endswith("/0"))
                        .values(fetched_at=now - timedelta(days=40)))
        session.execute(update(CrawlRun).values(started_at=now - timedelta(days=40)))
    assert store.prune(now - timedelta(days=30), now - timedelta(days=31)) == (1, 42)
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(ArticleBand)) == 42
        assert session.scalar(select(func.count()).select_from(Article)) == 2, "articles stay"
    store.close()


def test_signature_is_datasketchs_minhash_value_for_value() -> None:
    """The vectorised signature must give exactly what datasketch gives: stored signatures and the
    thresholds measured in benchmarks/near_duplicates.md depend on it."""
    from datasketch import MinHash

    from pipelines.dedupe.shingles import NUM_PERM, SEED, shingle_hashes

    stories = [path.read_text(encoding="utf-8") for path in sorted(DATA.glob("*.txt"))]
    for story in [*stories, stories[0] * 40]:
        reference = MinHash(num_perm=NUM_PERM, seed=SEED, hashfunc=lambda value: value,
                            scheme="affine32")
        reference.update_batch(shingle_hashes(story))
        assert (signature(story) == reference.hashvalues).all()


def test_shingle_sets_and_their_similarity_are_the_set_arithmetic_they_stand_for() -> None:
    """shingle_hashes gives each shingle's hash once, sorted (its sort-based distinct replaces
    np.unique), and similarity is the Jaccard of those sets, as Python's sets compute it."""
    from pipelines.dedupe.shingles import SHINGLE_K, content_text, shingle_hashes

    stories = [path.read_text(encoding="utf-8") for path in sorted(DATA.glob("*.txt"))]
    for a, b in [(stories[0], stories[1]), (stories[0], stories[0] + " " + stories[2]),
                 (stories[2], "짧은 글"), ("", stories[1])]:
        hashes_a, hashes_b = shingle_hashes(a), shingle_hashes(b)
        for text, hashes in ((a, hashes_a), (b, hashes_b)):
            assert hashes.dtype == np.uint32
            assert (np.diff(hashes.astype(np.int64)) > 0).all(), "sorted, each value once"
            story = content_text(text)
            shingles = {story[i : i + SHINGLE_K]
                        for i in range(max(1, len(story) - SHINGLE_K + 1))} - {""}
            assert len(hashes) <= len(shingles) and len(hashes) >= 0.99 * len(shingles)
        set_a, set_b = set(hashes_a.tolist()), set(hashes_b.tolist())
        union = set_a | set_b
        assert similarity(a, b) == (len(set_a & set_b) / len(union) if union else 0.0)
