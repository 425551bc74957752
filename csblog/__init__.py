"""csblog: a static site generator for essays about service culture."""

__version__ = "0.1.0"
