"""The crawl's record of the pages it asked for: exact (a page asked twice or never is a bug)
whatever form its key takes."""

from scraper.kinds import PageKind
from spiders.tracking import ClaimedKeys, ThreadTracker


def test_each_key_is_claimed_once_and_different_keys_never_meet():
    claimed = ClaimedKeys()
    keys = [
        ("thread", "bbs.example.cn", 7),
        ("page", "bbs.example.cn", 7, 1),
        ("page", "bbs.example.cn", 7, 2),
        ("page", "bbs.example.cn", 1, 7),
        ("page", "bbs.example.cn", 7 << ClaimedKeys.PART_BITS, 0),  # packs as (7, 2**24) would, were that allowed
        ("page", "bbs.example.cn", 7, 1 << ClaimedKeys.PART_BITS),  # too large a page to pack: kept as it is
        ("page", "other.example.cn", 7, 1),
        ("forum", "bbs.example.cn", 7, 1),
        ("thread", "bbs.example.cn", -7),
        ("index", "http://bbs.example.cn/forum.php"),
        (PageKind.VIEWRATINGS, "bbs.example.cn", 7),
        (PageKind.PORTAL_ARTICLE, "bbs.example.cn", 3, 2),
    ]
    assert [claimed.add(key) for key in keys] == [True] * len(keys)
    assert [claimed.add(key) for key in keys] == [False] * len(keys)
    assert len(claimed) == len(keys)
    # a kind is the same key whether spelled as the enum or as its string
    assert not claimed.add(("viewratings", "bbs.example.cn", 7))
    assert not claimed.add((PageKind.THREAD, "bbs.example.cn", 7))


def test_the_tracker_claims_each_page_once():
    tracker = ThreadTracker()
    assert tracker.claim(("page", "x.cn", 12, 3))
    assert not tracker.claim(("page", "x.cn", 12, 3))
    assert tracker.claim(("page", "x.cn", 12, 4))


def test_many_keys_stay_exact_across_merges():
    claimed = ClaimedKeys()
    keys = [("page", "x.cn", tid, page) for tid in range(5000, 0, -7) for page in (1, 2, 3)]
    assert all(claimed.add(key) for key in keys)
    assert not any(claimed.add(key) for key in keys)
    assert claimed.add(("page", "x.cn", 5001, 1)) and len(claimed) == len(keys) + 1
    assert claimed.add(("page", "x.cn", 1 << 40, 1))  # too large to pack in 8 bytes: kept as it is
    assert not claimed.add(("page", "x.cn", 1 << 40, 1))
