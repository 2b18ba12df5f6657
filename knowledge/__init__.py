"""The knowledge base: articles in every portal language, their categories and search, and the
suggestions the ticket form shows.
"""
