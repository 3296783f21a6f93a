"""History that survives: REST backfill, the SQLite store, recording and replay.

Modules (import what you need; none imports textual or rich):

* :mod:`liqtui.history.backfill`: ``backfill()`` / ``backfill_venues()`` / ``fetch_history()``: klines + open
  interest over REST (Binance, Bybit) with paging, rate limits, progress, cancel and resume from the store.
* :mod:`liqtui.history.store`: ``Store`` (SQLite WAL: bars, checkpoints, retention) and ``StoreWriter`` (the
  cheap per-event live sink that flushes at least once a second).
* :mod:`liqtui.history.restore`: ``model_bars()``, ``rebuild()``, ``restore()``, ``Checkpointer``.
* :mod:`liqtui.history.record`: ``Recorder`` (the FeedManager ``on_raw`` hook).
* :mod:`liqtui.history.replay`: ``replay()`` through the live decoders; :mod:`liqtui.history.formats` reads
  ours, hftbacktest, cryptofeed v1/v3 and tardis sample files.
"""
