"""The knowledge base: articles in every portal language, their categories and search, and the
suggestions the ticket form shows.
"""

from pathlib import Path

KNOWLEDGE_LOCALES = Path(__file__).parent / "locales"
"""The help centre's catalogs: the portal's help pages and the back office's article editor."""
