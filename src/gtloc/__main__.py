"""``python -m gtloc``: the same as the ``gtloc`` command."""

from gtloc.cli import main

main()
