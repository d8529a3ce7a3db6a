"""Use cases, one module each; each a class that takes, in its constructor, exactly the
ports, stores and other use cases it uses (wired in `app/container.py`)."""
