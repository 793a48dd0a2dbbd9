"""Benchmarks that print figures (`korak bench …`) and the fake Bot API they run against. Not
part of what runs in production: `korak run` never imports this package."""
