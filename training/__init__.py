"""Training and evaluation: SUN-SEG data, BCE + boundary DoU loss, trainers, benchmark metrics.

Depends on `models` only; nothing in `models` imports this package.
"""
