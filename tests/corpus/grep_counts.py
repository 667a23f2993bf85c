"""Cross-check each truth file's counts against plain grep counts of the ids in its page.

    python tests/corpus/grep_counts.py     # one line per page; exit 1 when a count disagrees

A second reading that shares nothing with draft_truth.py's lxml queries: regular expressions
over the raw text. Run by tests/test_corpus.py too.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).parent
TESTS = HERE.parent
# The id each layout gives one post, and one thread row (ad rows have non-numeric ids).
POST_IDS = {
    "desktop": r'<div id="post_(\d+)"',
    "robot": r'<div id="post_(\d+)"',
    "touch": r'class="plc[^"]*" id="pid(\d+)"',
    "legacy": r'id="message(\d+)" class="t_msgfont"',
}
ROW_IDS = {"desktop": r'<tbody id="(?:normal|stick)thread_(\d+)"', "touch": r'tid=(\d+)[^"]*">\s*<div class="threadlist_tit'}


def disagreements() -> list[str]:
    problems = []
    with open(HERE / "SOURCES.tsv", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            text = (TESTS / row["file"]).read_bytes().decode(row["encoding"])
            truth = json.loads((HERE / "truth" / f"{row['name']}.json").read_text("utf-8"))
            if row["kind"] == "portal":  # one article text; the comments it shows, by their ids
                if (texts := text.count('id="article_content"')) != 1:
                    problems.append(f"{row['name']}: {texts} article texts, not one")
                grepped = [int(cid) for cid in re.findall(r'<dl id="comment_(\d+)_li"', text)]
                read = truth["article"]["comments"]
            elif row["kind"] == "forum":
                grepped = [int(tid) for tid in re.findall(ROW_IDS[row["view"]], text)]
                read = [thread["tid"] for thread in truth["threads"]]
            else:
                grepped = list(dict.fromkeys(int(pid) for pid in re.findall(POST_IDS[row["view"]], text)))
                read = [post["pid"] for post in truth["posts"]]
                comment_blocks = {int(pid) for pid in re.findall(r'id="comment_(\d+)"', text)}
                if row["view"] in ("desktop", "robot") and not comment_blocks >= {p for p in read if truth_post(truth, p)["comments"]}:
                    problems.append(f"{row['name']}: 点评 counted where no comment_PID block is")
            if grepped != read:
                problems.append(f"{row['name']}: grep finds {grepped}, the truth reads {read}")
    return problems


def truth_post(truth: dict, pid: int) -> dict:
    return next(post for post in truth["posts"] if post["pid"] == pid)


if __name__ == "__main__":
    found = disagreements()
    print("\n".join(found) or "every count agrees")
    sys.exit(1 if found else 0)
