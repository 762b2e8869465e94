"""`checkout-bot demo`: the shop wired to the bundled emulators, with a web page to use it."""
