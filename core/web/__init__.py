"""Web pieces shared by the portal and the back office: the app factory, security headers, error
pages, health and metrics, language switching and the base layout.

They live in ``core`` because both apps need them and neither app may import the other.
"""
