"""The server-rendered console: pages that call the same services as the API, Jinja2
templates, static files and the Russian and English wording."""
