"""Alerts, the tmux status line and the log of spent zones (issue 13).

* :mod:`.rules`: the ``[[alerts]]`` rule tables (msgspec), validated with errors naming the rule and key.
* :mod:`.evaluator`: fed market snapshots, fires each rule once, re-arms with hysteresis, keeps cooldowns.
* :mod:`.actions`: where an alert goes: toast, bell, OSC 9/777/99 (tmux passthrough), ``tmux display-message``,
  a user command with the alert as JSON on stdin.
* :mod:`.spentlog`: zones consumed by the price, what was liquidated and how price reacted afterwards.
* :mod:`.state` / :mod:`.cli`: the per-symbol state file and ``liqtui status`` (stdlib only: starts fast);
  ``liqtui watch`` (headless alerts).
* :mod:`.controller`: what the app and ``liqtui watch`` own: engine → snapshot → alerts → actions + state file.

Pure: nothing here imports textual; the status path imports nothing outside the standard library.
This ``__init__`` stays empty of imports so ``liqtui status`` loads only what it needs.
"""
