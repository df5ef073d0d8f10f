"""flywheel: implicit feedback -> weak-supervision labels, inside the warehouse."""

__version__ = "0.1.0"
