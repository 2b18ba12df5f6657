"""Dramatiq workers: broker setup, thin actors and the scheduler."""
