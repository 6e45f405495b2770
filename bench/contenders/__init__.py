"""Servers RegionServe is compared with, each doing the same decode, preparation and regions."""
