"""API shapes per resource; camelCase on the wire."""
