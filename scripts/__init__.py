"""Maintainer commands run from the repository root (`python -m scripts.release`)."""
