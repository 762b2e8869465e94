"""Running the shop for real: metrics, the guardian that tells the admins when money or
messages stop flowing, and the configuration doctor."""
