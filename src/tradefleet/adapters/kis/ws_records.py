"""Splitting a data frame's payload into its records: ``count`` records of equal width
joined with ``^``. The width is the payload's field count over ``count``; a TR whose field
list has grown (KIS added fields to H0STCNI0 in 2025) still parses by index, so a record
only has to be at least as wide as the fields read from it."""

from __future__ import annotations

from tradefleet.adapters.kis.ws_frames import FrameError


def split_records(tr_id: str, payload: str, count: int, *, min_width: int) -> list[list[str]]:
    fields = payload.split("^")
    if len(fields) % count:
        raise FrameError(f"{tr_id} payload: {len(fields)} fields do not split into "
                         f"count={count} records of equal width")
    width = len(fields) // count
    if width < min_width:
        raise FrameError(f"{tr_id} payload: records of {width} fields, expected at least "
                         f"{min_width}")
    return [fields[i * width:(i + 1) * width] for i in range(count)]


def whole(tr_id: str, record: int, names: tuple[str, ...], row: list[str], index: int, *,
          blank: int | None = None, signed: bool = False) -> int:
    """An integer field (won, shares; leading zeros allowed). ``blank`` is the value of an
    empty field; None = an empty field is an error."""
    raw = row[index].strip()
    if raw == "" and blank is not None:
        return blank
    digits = raw[1:] if signed and raw[:1] in "+-" else raw
    if not digits.isdigit():
        raise FrameError(f"{tr_id} record {record} field {index} {names[index]}: "
                         f"{raw!r} is not a whole number")
    return int(raw)
