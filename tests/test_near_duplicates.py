"""Near-duplicate stories: copies across portals join one story, different stories never do."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from pipelines.dedupe.minhash import signature
from pipelines.dedupe.near_duplicates import DEFAULT_THRESHOLD, NearDuplicateIndex
from pipelines.dedupe.shingles import NUM_PERM, content_text, from_bytes, is_empty, similarity, to_bytes
from pipelines.storage.models import Source
from pipelines.storage.store import Store

DATA = Path(__file__).parent / "data" / "near_duplicates"
TEMPLATES = tomllib.loads((DATA / "templates.toml").read_text(encoding="utf-8"))
OUTLETS = {outlet["name"]: outlet for outlet in TEMPLATES["outlet"]}
BLOCKS = {block["name"]: block for block in TEMPLATES["block"]}
NOW = datetime(2025, 6, 3, 9, 0, tzinfo=UTC)
# (story, its independent rewrite, two outlets that syndicate it, a line a portal adds)
STORIES = {
    "ko": ("ko-ai-chip", "ko-ai-chip.rewrite", "newsis-like", "daily-like",
           "한편 정부는 다음 주 관계부처 합동 브리핑을 열어 추가 대책을 설명할 예정이다."),
    "en": ("en-port-strike", "en-port-strike.rewrite", "wire-like", "paper-like",
           "This story has been updated with comment from officials."),
}
OTHER = {"ko": "ko-heatwave", "en": "en-wildfire"}


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


def index_with(text: str, article_id: int = 1, story_id: int = 10) -> NearDuplicateIndex:
    index = NearDuplicateIndex(texts={article_id: text}.get)
    index.add(article_id, story_id, signature(text), NOW)
    return index


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


# -- copies join the story ----------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["ko", "en"])
def test_copy_in_another_outlets_template_joins_the_story(lang: str) -> None:
    name, _, first, second, _ = STORIES[lang]
    original, copy = render(paragraphs(name), first), render(paragraphs(name), second)
    for texts in ({1: original}.get, None):  # exact check, and the estimate alone
        index = NearDuplicateIndex(texts=texts)
        index.add(1, 10, signature(original), NOW)
        found = index.find(signature(copy), text=copy)
        assert found is not None and found[:2] == (1, 10), f"{lang} copy not merged: {found}"
        assert found[2] > 0.95


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_copy_without_the_last_paragraph_joins_the_story(lang: str) -> None:
    name, _, first, second, _ = STORIES[lang]
    original = render(paragraphs(name), first)
    copy = render(paragraphs(name)[:-1], second)
    found = index_with(original).find(signature(copy), text=copy)
    assert found is not None and found[1] == 10, f"{lang} copy without last paragraph: {found}"


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_copy_with_an_added_line_joins_the_story(lang: str) -> None:
    name, _, first, second, added = STORIES[lang]
    paras = paragraphs(name)
    original = render(paras, first)
    copy = render([*paras[:3], added, *paras[3:]], second)
    found = index_with(original).find(signature(copy), text=copy)
    assert found is not None and found[1] == 10, f"{lang} copy with an added line: {found}"


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_copy_with_every_edit_at_once_joins_the_story(lang: str) -> None:
    name, _, first, second, added = STORIES[lang]
    paras = paragraphs(name)
    original = render(paras, first)
    copy = render([*paras[:2], added, *paras[2:-1]], second)
    found = index_with(original).find(signature(copy), text=copy)
    assert found is not None and found[1] == 10, f"{lang} edited copy: {found}"


# -- different stories stay apart ----------------------------------------------------------------

@pytest.mark.parametrize("lang", ["ko", "en"])
def test_independent_article_about_the_same_event_is_another_story(lang: str) -> None:
    name, rewrite, first, second, _ = STORIES[lang]
    original = render(paragraphs(name), first)
    other = render(paragraphs(rewrite), second)
    assert similarity(original, other) < DEFAULT_THRESHOLD / 2
    assert index_with(original).find(signature(other), text=other) is None
    assert index_with(original, story_id=11).find(signature(other)) is None


@pytest.mark.parametrize("block", ["ko-footer", "ko-series", "en-footer", "en-series"])
def test_two_stories_under_one_outlets_long_boilerplate_stay_apart(block: str) -> None:
    lang = block[:2]
    name, _, outlet, _, _ = STORIES[lang]
    first = render(paragraphs(name), outlet, block)
    second = render(paragraphs(OTHER[lang]), outlet, block)
    index = index_with(first)
    assert index.find(signature(second), text=second) is None
    assert index.find(signature(second)) is None, "the estimate alone merged them"


def test_a_caption_with_only_template_lines_never_merges() -> None:
    caption = "(사진=연합뉴스)\n이수진 기자 sjlee@hanbit.example.kr\nⓒ 한빛일보 무단전재 및 재배포 금지"
    index = index_with(caption)
    assert content_text(caption) == ""
    assert len(index) == 0
    assert index.find(signature(caption), text=caption) is None


def test_template_lines_go_and_body_paragraphs_that_mention_them_stay() -> None:
    body = ("The newsletter, which the company started in 2019 to reach investors, said on "
            "Tuesday that it would stop publishing next month after its subscriber base fell "
            "by half, a decline it blamed on rising postage costs.")
    text = render([body], "paper-like")
    assert content_text(text).startswith("the newsletter which the company")
    assert "maria" not in content_text(text) and "copyright" not in content_text(text)


# -- signatures ----------------------------------------------------------------------------------

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


# -- persistence and the window ------------------------------------------------------------------

def _store(tmp_path: Path) -> tuple[str, Store, int]:
    url = f"sqlite:///{tmp_path / 'newswatch.db'}"
    store = Store.open(url)
    with store.session() as session:
        source = Source(name="portal", kind="feed", url="https://portal.example/rss")
        session.add(source)
        session.flush()
        source_id = source.id
    return url, store, source_id


def _article(store: Store, source_id: int, slug: str, text: str, fetched_at: datetime,
             minhash: bytes | None) -> int:
    fields = {"source_id": source_id, "url": f"https://portal.example/{slug}",
              "canonical_url": f"https://portal.example/{slug}", "title": slug, "text": text,
              "language": "ko", "author": None, "published": fetched_at, "fingerprint": slug,
              "fetched_at": fetched_at, "minhash": minhash}
    stored = store.add_article(fields)
    assert stored is not None, f"{slug} was not stored"
    return stored[0]


def test_load_rebuilds_the_index_from_the_store_after_a_restart(tmp_path: Path) -> None:
    url, store, source_id = _store(tmp_path)
    now = datetime.now(UTC)
    chip = render(paragraphs("ko-ai-chip"), "newsis-like")
    heat = render(paragraphs("ko-heatwave"), "yonhap-like")
    strike = render(paragraphs("en-port-strike"), "wire-like")
    recent = _article(store, source_id, "chip", chip, now - timedelta(days=2),
                      to_bytes(signature(chip)))
    # Stored before signatures existed: load() has to shingle the text.
    unsigned = _article(store, source_id, "heat", heat, now - timedelta(days=1), None)
    _article(store, source_id, "strike", strike, now - timedelta(days=45),
             to_bytes(signature(strike)))

    restarted = NearDuplicateIndex.load(Store(url), window_days=30)

    assert len(restarted) == 2, "the 45-day-old article is outside the 30-day window"
    copy = render(paragraphs("ko-ai-chip")[:-1], "daily-like")
    found = restarted.find(signature(copy), text=copy)
    assert found is not None and found[0] == recent
    assert found[2] == pytest.approx(similarity(copy, chip)), "verified on the stored text"
    heat_copy = render(paragraphs("ko-heatwave"), "portal-like")
    assert restarted.find(signature(heat_copy), text=heat_copy)[0] == unsigned  # type: ignore[index]
    strike_copy = render(paragraphs("en-port-strike"), "paper-like")
    assert restarted.find(signature(strike_copy), text=strike_copy) is None


def test_catch_up_sees_what_another_process_stored(tmp_path: Path) -> None:
    url, store, source_id = _store(tmp_path)
    now = datetime.now(UTC)
    ours, theirs = NearDuplicateIndex.load(Store(url), 30), NearDuplicateIndex.load(Store(url), 30)
    chip = render(paragraphs("ko-ai-chip"), "newsis-like")
    # "Their" process stores a story and indexes it; ours has not seen it yet.
    stored = _article(store, source_id, "chip", chip, now, to_bytes(signature(chip)))
    theirs.add(stored, 10, signature(chip), now)
    copy = render(paragraphs("ko-ai-chip")[:-1], "daily-like")
    assert ours.find(signature(copy), text=copy) is None
    assert ours.catch_up(Store(url), 30) == 1
    found = ours.find(signature(copy), text=copy)
    assert found is not None and found[0] == stored
    # What a process stored and added itself is not indexed twice.
    assert theirs.catch_up(Store(url), 30) == 0 and len(theirs) == 1
    assert ours.catch_up(Store(url), 30) == 0 and len(ours) == 1


def test_load_uses_the_configured_threshold(tmp_path: Path) -> None:
    url, _, _ = _store(tmp_path)
    assert NearDuplicateIndex.load(Store(url), window_days=7, threshold=0.6).threshold == 0.6


def test_prune_drops_old_entries_and_gives_the_memory_back() -> None:
    rng = np.random.default_rng(5)
    index = NearDuplicateIndex()
    stored = [random_signature(rng) for _ in range(10_000)]  # more than one tail: merges run
    for i, mh in enumerate(stored):
        index.add(i, 100_000 + i, mh, NOW - timedelta(days=40 if i < 8_000 else 1))
    full = index.nbytes
    assert index.find(near_copy(stored[123], rng, 0.8))[:2] == (123, 100_123)  # type: ignore[index]

    assert index.prune(NOW - timedelta(days=30)) == 8_000
    assert len(index) == 2_000
    assert index.nbytes < full / 3
    assert index.find(near_copy(stored[123], rng, 0.8)) is None
    found = index.find(near_copy(stored[9_500], rng, 0.8))
    assert found is not None and found[:2] == (9_500, 109_500), "rows renumbered wrongly"
    index.add(20_000, 120_000, stored[50], NOW)
    assert index.find(stored[50])[:2] == (20_000, 120_000)  # type: ignore[index]
    assert index.prune(NOW - timedelta(days=30)) == 0


def test_find_prefers_the_closest_story() -> None:
    rng = np.random.default_rng(9)
    base = random_signature(rng)
    index = NearDuplicateIndex()
    index.add(1, 10, near_copy(base, rng, 0.6), NOW)
    index.add(2, 20, near_copy(base, rng, 0.9), NOW)
    assert index.find(base)[:2] == (2, 20)  # type: ignore[index]


def test_bad_input_is_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        NearDuplicateIndex(threshold=1.5)
    index = NearDuplicateIndex()
    with pytest.raises(ValueError, match="give it a zone"):
        index.add(1, 1, random_signature(np.random.default_rng(1)), datetime(2025, 6, 3))
