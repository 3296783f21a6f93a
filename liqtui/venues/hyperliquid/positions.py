"""Reading Hyperliquid's ``POST /info`` answers about positions: ``clearinghouseState`` and ``metaAndAssetCtxs``.

``clearinghouseState`` (weight 2)::

    {"assetPositions": [{"type": "oneWay", "position": {"coin": "BTC", "szi": "-0.5", "entryPx": "104000.0",
      "leverage": {"type": "cross", "value": 20}, "liquidationPx": "109850.2" | null,
      "positionValue": "52000.0", "marginUsed": "2600.0", ...}}, ...],
     "marginSummary": {...}, "crossMarginSummary": {...}, "withdrawable": "...", "time": 1737918843000}

Numbers are decimal strings. ``szi`` is signed (negative: short) and can be ``"0.0"`` for a closed position
still listed. ``liquidationPx`` is ``null`` when the account cannot be liquidated at any price; for a
``cross`` position it is the account's price (all cross positions share the margin), for ``isolated`` the
position's own. A request may name a ``dex`` (HIP-3 sub-dexes); liqtui asks the main dex only unless told.

``metaAndAssetCtxs`` (weight 20): ``[{"universe": [{"name": "BTC", ...}, ...]}, [{"markPx": "...",
"openInterest": "...", ...}, ...]]``, contexts in the universe's order; ``openInterest`` is in coins.
"""

from __future__ import annotations

import math
from typing import Any

from liqtui.core.observed import ObservedPosition

__all__ = ["InfoShapeError", "open_interest_usd", "parse_clearinghouse"]


class InfoShapeError(ValueError):
    """An info answer without the documented shape (the message says which field)."""


def _num(obj: dict[str, Any], key: str, *, nullable: bool = False) -> float | None:
    v = obj.get(key)
    if v is None:
        if nullable:
            return None
        raise InfoShapeError(f"field {key!r} is missing")
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise InfoShapeError(f"field {key!r} is not a number: {str(v)[:40]!r}") from None
    if not math.isfinite(x):
        raise InfoShapeError(f"field {key!r} is not finite: {v!r}")
    return x


def parse_clearinghouse(
    body: Any, address: str, ts: int, *, coin: str | None = None
) -> list[ObservedPosition]:
    """The non-zero positions of one ``clearinghouseState`` answer (of ``coin`` only, when given).

    Raises :class:`InfoShapeError` for an answer without the documented shape: a malformed entry of a coin
    that is read fails the whole answer (a snapshot is all or nothing); entries of other coins are skipped
    unread when ``coin`` is given."""
    if not isinstance(body, dict):
        raise InfoShapeError(f"clearinghouseState: expected an object, got {type(body).__name__}")
    rows = body.get("assetPositions")
    if not isinstance(rows, list):
        raise InfoShapeError("clearinghouseState: field 'assetPositions' is missing or not a list")
    t = body.get("time")
    snap_ts = int(t) if isinstance(t, int) and not isinstance(t, bool) and t > 0 else ts
    out: list[ObservedPosition] = []
    for i, row in enumerate(rows):
        pos = row.get("position") if isinstance(row, dict) else None
        if not isinstance(pos, dict):
            raise InfoShapeError(f"clearinghouseState: assetPositions[{i}] has no 'position' object")
        c = pos.get("coin")
        if not isinstance(c, str):
            raise InfoShapeError(f"clearinghouseState: assetPositions[{i}].coin is not a string")
        if coin is not None and c != coin:
            continue
        try:
            szi = _num(pos, "szi")
            assert szi is not None
            if szi == 0.0:
                continue
            entry = _num(pos, "entryPx")
            value = _num(pos, "positionValue")
            liq = _num(pos, "liquidationPx", nullable=True)
            lev = pos.get("leverage")
            if not isinstance(lev, dict):
                raise InfoShapeError("field 'leverage' is not an object")
            kind = lev.get("type")
            if kind not in ("cross", "isolated"):
                raise InfoShapeError(f"leverage.type must be 'cross' or 'isolated', got {kind!r}")
            lv = _num(lev, "value")
        except InfoShapeError as exc:
            raise InfoShapeError(f"clearinghouseState: assetPositions[{i}] ({c}): {exc}") from None
        assert entry is not None and value is not None and lv is not None
        out.append(
            ObservedPosition(
                address=address,
                coin=c,
                side=1 if szi > 0 else -1,
                size=abs(szi),
                entry_px=entry,
                leverage=lv,
                margin=str(kind),
                liq_px=liq if liq is not None and liq > 0 else None,
                value_usd=abs(value),
                ts=snap_ts,
            )
        )
    return out


def open_interest_usd(body: Any, coin: str) -> float | None:
    """The coin's open interest in USD (coins × mark) from a ``metaAndAssetCtxs`` answer (None: not listed)."""
    if not (isinstance(body, list) and len(body) == 2 and isinstance(body[0], dict)):
        raise InfoShapeError("metaAndAssetCtxs: expected [meta, contexts]")
    universe, ctxs = body[0].get("universe"), body[1]
    if not isinstance(universe, list) or not isinstance(ctxs, list):
        raise InfoShapeError("metaAndAssetCtxs: 'universe' or the contexts are not lists")
    for i, u in enumerate(universe):
        if isinstance(u, dict) and u.get("name") == coin:
            if i >= len(ctxs) or not isinstance(ctxs[i], dict):
                raise InfoShapeError(f"metaAndAssetCtxs: no context for {coin}")
            oi, mark = _num(ctxs[i], "openInterest"), _num(ctxs[i], "markPx")
            assert oi is not None and mark is not None
            return oi * mark
    return None
