"""The built-in wording: default templates for every notification type, channel kind and
language, and the sample events that previews and save-time checks render against.

The layouts are Jinja2 files under ``layouts/<language>/<kind>.<field>.j2``, shipped in
the wheel with the package; the per-type headlines are in :mod:`.words`.
"""
