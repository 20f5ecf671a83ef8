"""Turning an event into deliveries: matching, rules, silences, throttles, recipients."""
