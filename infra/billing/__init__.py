"""The price book file: read and checked before anything is published."""
