"""Gatehouse's shared layer: settings, errors, the HTTP resolver, stores and the domains."""

__version__ = "0.1.0"
