"""Label harmonization after reading: intensity, neutral smoothing (§2.2), domains, splits, prior."""
