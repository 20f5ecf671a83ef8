"""Use-cases. They take a session and plain arguments and never import FastAPI."""
