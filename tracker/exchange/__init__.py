"""The Excel round trip: a pre-filled sheet per agency, and reading it back."""
