"""The buyer's side: the storefront, buying, and the buyer's own commands."""
