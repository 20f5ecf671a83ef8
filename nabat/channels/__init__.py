"""Channel types: one module per type, each with its configuration model."""
