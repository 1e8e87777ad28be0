"""Review workflow: recorded scans and human decisions, applied to every later scan.

Nothing in this package imports SQLAlchemy at import time; only the store
implementation (``sqlstore``) does, and it is loaded when a database is opened.
"""
