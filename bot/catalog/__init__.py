"""The catalog: the shop's products, from a TOML file or the Stripe account, and reloading it."""
