"""`python -m app.weights`: see app/weights/cli.py."""

from app.weights.cli import main

raise SystemExit(main())
