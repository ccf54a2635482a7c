"""``python -m oncobase`` is the ``oncobase`` command."""

from oncobase.cli import main

main()
