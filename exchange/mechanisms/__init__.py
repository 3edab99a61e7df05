"""Trading mechanisms: the registry, market making with its obligations, negotiated transfer."""
