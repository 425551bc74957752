"""`python -m csblog` runs the command line."""

from csblog.cli import main

raise SystemExit(main())
