"""Client relationship work for staff: client search and the 360 read model, sales assignment and
data scope, tags and saved segments, leads, notes and tasks (DESIGN.md §9).

It knows no web framework; the back office's pages call it.
"""
