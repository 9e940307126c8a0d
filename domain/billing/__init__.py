"""Billing: the price book, monthly periods, and invoices priced from usage, exactly."""
