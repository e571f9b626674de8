"""Charging analytics (DESIGN §6b): figures for hub staff and for each partner."""
