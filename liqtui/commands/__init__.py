"""The commands of the CLI, one module each: :mod:`~liqtui.commands.ui` (``liqtui [--demo]``,
``liqtui replay FILE``), :mod:`~liqtui.commands.record` (``liqtui record FILE``) and
:mod:`~liqtui.commands.zones` (``liqtui zones``).

Each takes the parsed flags (:func:`liqtui.cli.parse_args`) and the loaded :class:`~liqtui.config.Config`,
says what went wrong on stderr and returns the exit code: 0 ok, 2 bad arguments (naming the flag or key and
what is allowed), 3 no data, 1 anything else.
"""
