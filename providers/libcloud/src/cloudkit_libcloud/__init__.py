"""cloudkit's libcloud fallback provider."""
