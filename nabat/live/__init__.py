"""The live hub and the Server-Sent Events it feeds (``docs/api.md``, "Live inbox").

``hub.LiveHub`` (one per process, on ``AppState``) keeps the open streams and wakes
them on signals; ``inbox`` is a person's inbox stream; ``sse`` the wire format and the
pacing; ``server`` the uvicorn server that ends the streams when it stops.
"""
