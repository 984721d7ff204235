"""Two ``bench/replay_profile.py --events`` dumps compared row by row in event_id order, with
what differs from run to run masked (pid, timings, uuids, wall times, client order ids).
Run: python3 replay-events21-events_normalised_diff.py A.jsonl B.jsonl"""

import json
import re
import sys

MASKS = [(r'"pid": \d+', '"pid": 0'),
         (r'"(\w+_ms|\w+_s|age\w*)": [0-9.e-]+', r'"\1": 0'),
         (r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "U"),
         (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+\d\d:\d\d|Z)", "T"),
         (r"tf-[\w-]+-[0-9a-f]{12}", "C")]


def masked(line: str) -> str:
    text = json.dumps(json.loads(line), sort_keys=True)
    for pattern, mask in MASKS:
        text = re.sub(pattern, mask, text)
    return text


def main() -> None:
    with open(sys.argv[1]) as a, open(sys.argv[2]) as b:  # noqa: PTH123
        left, right = [masked(x) for x in a], [masked(x) for x in b]
    differ = [(i, x, y) for i, (x, y) in enumerate(zip(left, right, strict=False)) if x != y]
    print(len(left), len(right), "differ:", len(differ))
    for i, x, y in differ[:3]:
        print(i, x, "\n ", y)


if __name__ == "__main__":
    main()
