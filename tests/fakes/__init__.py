"""Local servers that speak each provider's protocol, errors included."""
