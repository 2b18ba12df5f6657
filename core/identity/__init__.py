"""Identity: clients and staff, their credentials, second factor, one-time tokens, sign-in
sessions, and the staff roles and permissions that the back office checks.

Nothing here knows HTTP; the apps call these services and turn their errors into answers.
"""
