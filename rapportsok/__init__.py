"""Rapportsök: Swedish municipal social-services reports, searchable by meaning and by word."""

__version__ = "0.1.0"
