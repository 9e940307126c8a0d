"""Entry points: the HTTP apps and the bitstride command."""
