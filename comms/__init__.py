"""Communication with clients that staff author: announcements now (audience, schedule, language,
read tracking), campaigns later. The portal shows what this package selects.
"""
