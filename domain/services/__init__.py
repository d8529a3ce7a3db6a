"""Use cases, one module each; every function takes the `Context` first."""
