"""Delivery of outbox messages: channels, templates and the dispatcher.

Who gets what is decided in tracker.outbox (in the same transaction as the state change);
this package only renders and delivers.
"""
