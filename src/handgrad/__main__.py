"""`python -m handgrad ...` is the same as the `handgrad` command."""

from handgrad.cli import main

raise SystemExit(main())
