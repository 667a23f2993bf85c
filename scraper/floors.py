"""A thread page's floors (the posts' numbers in the thread): from the labels its markup
shows, else from each post's place on the page."""

from __future__ import annotations

import re

from scraper.models import Post

# Discuz's default floor labels (postnocustom): 楼主, 沙发, 板凳, 地板 for floors 1-4.
FLOOR_NAMES = {"楼主": 1, "樓主": 1, "沙发": 2, "沙發": 2, "板凳": 3, "地板": 4}
_DIGITS = re.compile(r"\d+")


def number_floors(
    posts: list[Post], labels: list[str | None], page: int, page_count: int, posts_per_page: int | None
) -> None:
    """Floors from the markup; where it hides them, from the post's position on the page."""
    offsets = []
    for index, (post, label) in enumerate(zip(posts, labels)):
        label = label or ""
        digits = _DIGITS.search(label)
        if digits:
            post.floor = int(digits[0])
            offsets.append(post.floor - index)
        elif label in FLOOR_NAMES:
            post.floor = FLOOR_NAMES[label]
    shown = [post.floor for post in posts if post.floor is not None]
    if page == 1 and posts[0].floor is None and len(shown) > 1 and all(
        later < earlier for earlier, later in zip(shown, shown[1:])
    ):
        # Page 1 of a thread read newest first (ordertype=1, or the thread's own 倒序) where
        # Discuz X3 counts the floors itself (no saved positions: a thread with a deleted post):
        # the first post takes number 0, shown "#" alone, so the replies come one below their
        # floors, down to 楼主 for the oldest (mcbbs' thread 857907 in tests/corpus: two 楼主
        # else). Later pages count from the right number, and a thread with saved positions
        # shows each post's own: 楼主 first, then the newest reply's floor.
        for post in posts:
            post.floor = post.floor + 1 if post.floor is not None else None
        posts[0].floor = 1
        return
    if offsets:
        base = offsets[0]
    elif page == 1:
        base = 1
    else:
        per_page = posts_per_page or (len(posts) if page < page_count else None)
        base = (page - 1) * per_page + 1 if per_page else None
    for index, post in enumerate(posts):
        if post.floor is None and base is not None:
            post.floor = base + index
