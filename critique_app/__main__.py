"""``python -m critique_app`` is the same as the ``critique`` command."""

from critique_app.cli.app import main

if __name__ == "__main__":
    main()
