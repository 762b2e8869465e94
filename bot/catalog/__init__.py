"""The catalog: the shop's products, read from a TOML file or from the Stripe account."""
