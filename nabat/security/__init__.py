"""Secret encryption and masking, tokens, API keys and password hashing."""
