"""stylepipe: flicker-free video style transfer."""

__version__ = "0.1.0"
