"""One-click unsubscribe (RFC 8058): signed links in every email, and the function URL that honours them."""
